package inventory

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Labels and keys of the ConfigMaps a ConfigMapStore writes.
const (
	// StoreLabel marks inventory ConfigMaps; its value is the store's name.
	StoreLabel = "gitopskit.dev/inventory"
	// UnitAnnotation holds the unit ID.
	UnitAnnotation = "gitopskit.dev/unit"
	// RevisionAnnotation holds the revision the unit was last applied from.
	RevisionAnnotation = "gitopskit.dev/revision"
	// OrphanAnnotation is "true" for a unit whose objects are forgotten,
	// not deleted, when it stops rendering them.
	OrphanAnnotation = "gitopskit.dev/orphan"
	// ParentAnnotation names the unit that defined this one.
	ParentAnnotation = "gitopskit.dev/parent"
	// IdentityAnnotation is the user the unit was applied as, when not
	// the applier's own.
	IdentityAnnotation = "gitopskit.dev/identity"
	// ReleaseAnnotation names the package manager's release the unit is.
	ReleaseAnnotation = "gitopskit.dev/release"
	dataKey           = "inventory.gz"
)

// ConfigMapStore keeps each unit's inventory in a ConfigMap of one
// namespace, its entries gzip-compressed in binaryData, so 20,000 entries
// fit well within the API server's object size limit. Several stores can
// share a namespace under different names.
type ConfigMapStore struct {
	client    kubernetes.Interface
	namespace string
	name      string
}

// NewConfigMapStore returns a store in namespace; name tells stores in one
// namespace apart (e.g. one per reconciler) and may be empty.
func NewConfigMapStore(client kubernetes.Interface, namespace, name string) *ConfigMapStore {
	if name == "" {
		name = "default"
	}
	return &ConfigMapStore{client: client, namespace: namespace, name: name}
}

// objectName is a valid, stable ConfigMap name for a unit.
func (s *ConfigMapStore) objectName(unit string) string {
	sum := sha256.Sum256([]byte(s.name + "\x00" + unit))
	return "gitopskit-inventory-" + hex.EncodeToString(sum[:10])
}

// Load reads the unit's inventory.
func (s *ConfigMapStore) Load(ctx context.Context, unit string) (*Inventory, error) {
	cm, err := s.client.CoreV1().ConfigMaps(s.namespace).Get(ctx, s.objectName(unit), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("%s: %w", unit, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: load inventory: %w", unit, err)
	}
	return decode(unit, cm)
}

func decode(unit string, cm *corev1.ConfigMap) (*Inventory, error) {
	where := fmt.Sprintf("%s: inventory ConfigMap %s/%s", unit, cm.Namespace, cm.Name)
	zr, err := gzip.NewReader(bytes.NewReader(cm.BinaryData[dataKey]))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	var entries []Entry
	for _, l := range strings.Split(string(raw), "\n") {
		if l == "" {
			continue
		}
		e, err := parseLine(l)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		entries = append(entries, e)
	}
	inv := New(unit, entries...)
	inv.Revision = cm.Annotations[RevisionAnnotation]
	inv.Orphan = cm.Annotations[OrphanAnnotation] == "true"
	inv.Parent = cm.Annotations[ParentAnnotation]
	inv.Identity = cm.Annotations[IdentityAnnotation]
	inv.Release = cm.Annotations[ReleaseAnnotation]
	return inv, nil
}

// Save writes the unit's inventory with a server-side apply.
func (s *ConfigMapStore) Save(ctx context.Context, inv *Inventory) error {
	lines := make([]string, 0, len(inv.Entries))
	for _, e := range New(inv.Unit, inv.Entries...).Entries {
		lines = append(lines, e.line())
	}
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	io.WriteString(zw, strings.Join(lines, "\n"))
	if err := zw.Close(); err != nil {
		return err
	}
	cm := &corev1.ConfigMap{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{
			Name: s.objectName(inv.Unit), Namespace: s.namespace,
			Labels:      map[string]string{StoreLabel: s.name},
			Annotations: map[string]string{UnitAnnotation: inv.Unit, RevisionAnnotation: inv.Revision, OrphanAnnotation: strconv.FormatBool(inv.Orphan), ParentAnnotation: inv.Parent, IdentityAnnotation: inv.Identity, ReleaseAnnotation: inv.Release},
		},
		BinaryData: map[string][]byte{dataKey: buf.Bytes()},
	}
	body, err := json.Marshal(cm)
	if err != nil {
		return err
	}
	_, err = s.client.CoreV1().ConfigMaps(s.namespace).Patch(ctx, cm.Name, "application/apply-patch+yaml", body,
		metav1.PatchOptions{FieldManager: "gitopskit-inventory", Force: ptr(true)})
	if err != nil {
		return fmt.Errorf("%s: save inventory (%d entries): %w", inv.Unit, len(inv.Entries), err)
	}
	return nil
}

// List returns the units the store holds, sorted.
func (s *ConfigMapStore) List(ctx context.Context) ([]string, error) {
	list, err := s.client.CoreV1().ConfigMaps(s.namespace).List(ctx, metav1.ListOptions{LabelSelector: StoreLabel + "=" + s.name})
	if err != nil {
		return nil, fmt.Errorf("list inventories in %s: %w", s.namespace, err)
	}
	var out []string
	for _, cm := range list.Items {
		out = append(out, cm.Annotations[UnitAnnotation])
	}
	slices.Sort(out)
	return out, nil
}

// Delete removes the unit's inventory; a missing one is not an error.
func (s *ConfigMapStore) Delete(ctx context.Context, unit string) error {
	err := s.client.CoreV1().ConfigMaps(s.namespace).Delete(ctx, s.objectName(unit), metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("%s: delete inventory: %w", unit, err)
	}
	return nil
}

func ptr[T any](v T) *T { return &v }

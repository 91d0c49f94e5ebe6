package inventory

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Claimer is a Store that records who reconciles into it — a source and a
// root path — so two Reconcilers of different repositories never share one
// store by mistake: the second would take the first one's units for
// removed ones and prune them.
type Claimer interface {
	// Claim records owner as the store's, unless another owner holds it:
	// then it fails with a *ClaimedError, and changes nothing, unless
	// takeOver is set.
	Claim(ctx context.Context, owner string, takeOver bool) error
}

// ClaimedError says a store is held by another owner.
type ClaimedError struct {
	// Store names the store; Owner is who holds it, Want who asked.
	Store, Owner, Want string
}

func (e *ClaimedError) Error() string {
	return fmt.Sprintf("inventory store %s belongs to %s, not %s; refusing, nothing was applied or pruned (give each repository and path its own store name, or take the store over on purpose)", e.Store, e.Owner, e.Want)
}

// OwnerAnnotation holds the owner of a ConfigMapStore, on its owner
// ConfigMap.
const OwnerAnnotation = "gitopskit.dev/owner"

// ownerName is the ConfigMap recording the store's owner; it has no
// StoreLabel, so List never takes it for a unit.
func (s *ConfigMapStore) ownerName() string { return s.storeObject("gitopskit-owner-") }

// storeObject names an object that belongs to the store as a whole (its
// owner record, its key): prefix and a digest of the store's name.
func (s *ConfigMapStore) storeObject(prefix string) string {
	sum := sha256.Sum256([]byte(s.name))
	return prefix + hex.EncodeToString(sum[:10])
}

// Claim records owner on the store's owner ConfigMap. An owner already
// recorded costs one GET.
func (s *ConfigMapStore) Claim(ctx context.Context, owner string, takeOver bool) error {
	cms := s.client.CoreV1().ConfigMaps(s.namespace)
	cm, err := cms.Get(ctx, s.ownerName(), metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		cm = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: s.ownerName(), Namespace: s.namespace,
			Labels:      map[string]string{"gitopskit.dev/owner-of": s.name},
			Annotations: map[string]string{OwnerAnnotation: owner}}}
		_, err = cms.Create(ctx, cm, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			return s.Claim(ctx, owner, takeOver) // claimed meanwhile: look again
		}
		if err != nil {
			return fmt.Errorf("claim inventory store %s: %w", s.name, err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("claim inventory store %s: %w", s.name, err)
	}
	have := cm.Annotations[OwnerAnnotation]
	if have == owner {
		return nil
	}
	if have != "" && !takeOver {
		return &ClaimedError{Store: s.name, Owner: have, Want: owner}
	}
	if cm.Annotations == nil {
		cm.Annotations = map[string]string{}
	}
	cm.Annotations[OwnerAnnotation] = owner
	if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("claim inventory store %s: %w", s.name, err)
	}
	return nil
}

// Claim records owner, as ConfigMapStore.Claim does.
func (m *MemoryStore) Claim(_ context.Context, owner string, takeOver bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.owner != "" && m.owner != owner && !takeOver {
		return &ClaimedError{Store: "memory", Owner: m.owner, Want: owner}
	}
	m.owner = owner
	return nil
}

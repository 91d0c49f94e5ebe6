package gitopskit

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/gitopskit/gitopskit/render"
)

// clusterValues is a render.ValueSource reading ConfigMaps and Secrets from
// the cluster, as Flux reads valuesFrom, substituteFrom and the secretRef
// of sources: what no unit renders may still be in the cluster.
type clusterValues struct{ client kubernetes.Interface }

func (c clusterValues) Data(ctx context.Context, kind, namespace, name string) (map[string]string, error) {
	out := map[string]string{}
	var err error
	switch kind {
	case "ConfigMap":
		var cm *corev1.ConfigMap
		cm, err = c.client.CoreV1().ConfigMaps(namespace).Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			for k, v := range cm.Data {
				out[k] = v
			}
			for k, v := range cm.BinaryData {
				out[k] = string(v)
			}
		}
	case "Secret":
		var s *corev1.Secret
		s, err = c.client.CoreV1().Secrets(namespace).Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			for k, v := range s.Data {
				out[k] = string(v)
			}
		}
	default:
		return nil, fmt.Errorf("%s %s/%s: not a ConfigMap or Secret", kind, namespace, name)
	}
	if apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("%s %s/%s: %w in the repository or the cluster", kind, namespace, name, render.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("%s %s/%s: %w", kind, namespace, name, err)
	}
	return out, nil
}

// chainValues asks each source in turn; the first that has the object
// answers.
type chainValues []render.ValueSource

func (c chainValues) Data(ctx context.Context, kind, namespace, name string) (map[string]string, error) {
	var last error = render.ErrNotFound
	for _, v := range c {
		d, err := v.Data(ctx, kind, namespace, name)
		if err == nil {
			return d, nil
		}
		if !errors.Is(err, render.ErrNotFound) {
			return nil, err
		}
		last = err
	}
	return nil, last
}

package inventory

import (
	"context"
	"crypto/rand"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Keyer is a Store that keeps a secret key of its own, for digests of
// what must not be guessable from the inventory — a Secret's contents: an
// inventory is often readable by anyone who may view the namespace, and a
// plain digest of a short secret is found by trying values.
type Keyer interface {
	// Key returns the store's key, making one on first use.
	Key(ctx context.Context) ([]byte, error)
}

const keyData = "key"

// keyName is the Secret holding a ConfigMapStore's key.
func (s *ConfigMapStore) keyName() string { return s.storeObject("gitopskit-key-") }

// Key reads the store's key from its Secret, or makes a random 32-byte one
// there.
func (s *ConfigMapStore) Key(ctx context.Context) ([]byte, error) {
	secrets := s.client.CoreV1().Secrets(s.namespace)
	sec, err := secrets.Get(ctx, s.keyName(), metav1.GetOptions{})
	if err == nil && len(sec.Data[keyData]) > 0 {
		return sec.Data[keyData], nil
	}
	if err != nil && !apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("inventory store %s: read key: %w", s.name, err)
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	sec = &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: s.keyName(), Namespace: s.namespace,
		Labels: map[string]string{"gitopskit.dev/key-of": s.name}}, Data: map[string][]byte{keyData: key}}
	if _, err := secrets.Create(ctx, sec, metav1.CreateOptions{}); apierrors.IsAlreadyExists(err) {
		return s.Key(ctx) // made meanwhile
	} else if err != nil {
		return nil, fmt.Errorf("inventory store %s: make key: %w", s.name, err)
	}
	return key, nil
}

// Key returns a random key kept with the store.
func (m *MemoryStore) Key(context.Context) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.key == nil {
		m.key = make([]byte, 32)
		if _, err := rand.Read(m.key); err != nil {
			return nil, err
		}
	}
	return m.key, nil
}

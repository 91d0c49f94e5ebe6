package render

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitopskit/gitopskit/source"
)

// secretData reads the Secret a source's spec.<field> (secretRef,
// certSecretRef) names, in the source's namespace, as Flux does: from what
// the graph renders, then LoadOptions.Values (for a Reconciler, the
// cluster). It returns nil when the field is not set. Errors name the
// source and the Secret, never its values.
func (l *graphLoader) secretData(ctx context.Context, obj *unstructured.Unstructured, field string) (map[string][]byte, error) {
	name, _, _ := unstructured.NestedString(obj.Object, "spec", field, "name")
	if name == "" {
		return nil, nil
	}
	d, err := (&graphValues{l: l}).Data(ctx, "Secret", obj.GetNamespace(), name)
	if err != nil {
		return nil, fmt.Errorf("%s %s/%s: spec.%s: Secret %s/%s: %w", obj.GetKind(), obj.GetNamespace(), obj.GetName(), field, obj.GetNamespace(), name, err)
	}
	out := make(map[string][]byte, len(d))
	for k, v := range d {
		out[k] = []byte(v)
	}
	return out, nil
}

// mirrored reports whether url goes to a mirror: the source's own
// credentials are then not sent (a mirror is the caller's, with its own).
func (l *graphLoader) mirrored(url string) bool { return l.opts.Mirrors.Rewrite(url) != url }

// gitAuth is a GitRepository's credentials (spec.secretRef).
func (l *graphLoader) gitAuth(ctx context.Context, obj *unstructured.Unstructured) (source.GitAuth, error) {
	if url, _, _ := unstructured.NestedString(obj.Object, "spec", "url"); l.mirrored(url) {
		return source.GitAuth{}, nil
	}
	data, err := l.secretData(ctx, obj, "secretRef")
	if err != nil || data == nil {
		return source.GitAuth{}, err
	}
	return source.GitAuthFromSecret(data), nil
}

// helmAccess is how to reach a HelmRepository's or OCIRepository's url:
// its credentials (helmAuth) and its spec.timeout.
func (l *graphLoader) helmAccess(ctx context.Context, obj *unstructured.Unstructured, repoURL string) (source.HelmAuth, time.Duration, error) {
	timeout, err := sourceTimeout(obj)
	if err != nil {
		return source.HelmAuth{}, 0, err
	}
	auth, err := l.helmAuth(ctx, obj, repoURL)
	return auth, timeout, err
}

// helmAuth is a HelmRepository's or OCIRepository's credentials: basic
// auth from spec.secretRef (username and password, or a
// .dockerconfigjson entry for the registry's host), a CA from
// spec.certSecretRef (ca.crt), passCredentials and insecure as set.
func (l *graphLoader) helmAuth(ctx context.Context, obj *unstructured.Unstructured, repoURL string) (source.HelmAuth, error) {
	var auth source.HelmAuth
	auth.PlainHTTP, _, _ = unstructured.NestedBool(obj.Object, "spec", "insecure")
	auth.PassCredentials, _, _ = unstructured.NestedBool(obj.Object, "spec", "passCredentials")
	if l.mirrored(repoURL) {
		return auth, nil
	}
	data, err := l.secretData(ctx, obj, "secretRef")
	if err != nil {
		return auth, err
	}
	if data != nil {
		if cfg, ok := data[".dockerconfigjson"]; ok {
			u, p, err := dockerConfigAuth(cfg, repoURL)
			if err != nil {
				return auth, fmt.Errorf("%s %s/%s: spec.secretRef: %w", obj.GetKind(), obj.GetNamespace(), obj.GetName(), err)
			}
			auth.Username, auth.Password = u, p
		} else {
			a := source.HelmAuthFromSecret(data)
			auth.Username, auth.Password, auth.CABundle = a.Username, a.Password, a.CABundle
			auth.TLSClientCert, auth.TLSClientKey = a.TLSClientCert, a.TLSClientKey
		}
	}
	certs, err := l.secretData(ctx, obj, "certSecretRef")
	if err != nil {
		return auth, err
	}
	if ca := certs["ca.crt"]; len(ca) > 0 {
		auth.CABundle = ca
	}
	if crt := certs["tls.crt"]; len(crt) > 0 {
		auth.TLSClientCert, auth.TLSClientKey = crt, certs["tls.key"]
	}
	return auth, nil
}

// dockerConfigAuth finds the credentials for the registry of repoURL
// (oci://host/path) in a .dockerconfigjson.
func dockerConfigAuth(cfg []byte, repoURL string) (user, password string, err error) {
	var dc struct {
		Auths map[string]struct {
			Username string `json:"username"`
			Password string `json:"password"`
			Auth     string `json:"auth"`
		} `json:"auths"`
	}
	if err := json.Unmarshal(cfg, &dc); err != nil {
		return "", "", fmt.Errorf(".dockerconfigjson does not parse: %v", err)
	}
	host := repoURL
	if u, err := url.Parse(repoURL); err == nil && u.Host != "" {
		host = u.Host
	}
	for k, a := range dc.Auths {
		h := k
		if u, err := url.Parse(k); err == nil && u.Host != "" {
			h = u.Host
		}
		if h != host {
			continue
		}
		if a.Username != "" || a.Password != "" {
			return a.Username, a.Password, nil
		}
		b, err := base64.StdEncoding.DecodeString(a.Auth)
		if err != nil {
			return "", "", fmt.Errorf(".dockerconfigjson: the auth of %s is not base64", k)
		}
		u, p, _ := strings.Cut(string(b), ":")
		return u, p, nil
	}
	return "", "", fmt.Errorf(".dockerconfigjson has no credentials for %s", host)
}

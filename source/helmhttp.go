package source

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
)

var errNotModified = errors.New("not modified")

func (h *HelmChart) client() (*http.Client, error) {
	if h.opts.HTTPClient != nil {
		return h.opts.HTTPClient, nil
	}
	a := h.opts.Auth
	if len(a.CABundle) == 0 && len(a.TLSClientCert) == 0 {
		return http.DefaultClient, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if len(a.CABundle) > 0 {
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(a.CABundle) {
			return nil, errors.New("CA bundle holds no PEM certificate")
		}
		cfg.RootCAs = pool
	}
	if len(a.TLSClientCert) > 0 {
		cert, err := tls.X509KeyPair(a.TLSClientCert, a.TLSClientKey)
		if err != nil {
			return nil, fmt.Errorf("client certificate (tls.crt, tls.key): %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = cfg
	return &http.Client{Transport: tr}, nil
}

// resolveChartURL makes an index entry's URL absolute against the
// repository URL.
func (h *HelmChart) resolveChartURL(ref string) (string, error) {
	base, err := url.Parse(h.repoURL + "/")
	if err != nil {
		return "", err
	}
	r, err := url.Parse(ref)
	if err != nil {
		return "", fmt.Errorf("chart URL %q does not parse", ref)
	}
	return base.ResolveReference(r).String(), nil
}

// get fetches a URL of the repository (http, https or file). A 304 is
// errNotModified; other non-2xx answers are errors naming the URL, never
// its credentials.
func (h *HelmChart) get(ctx context.Context, raw string, hdr http.Header) (*http.Response, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, h.errorf("URL %q does not parse", RedactURL(raw))
	}
	if u.Scheme == "file" {
		f, err := os.Open(filepath.FromSlash(u.Path))
		if err != nil {
			return nil, h.errorf("%w", err)
		}
		return &http.Response{StatusCode: http.StatusOK, Body: f, Header: http.Header{}}, nil
	}
	client, err := h.client()
	if err != nil {
		return nil, h.errorf("%w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, raw, nil)
	if err != nil {
		return nil, h.errorf("GET %s: %w", RedactURL(raw), err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	a := h.opts.Auth
	repoURL, _ := url.Parse(h.repoURL)
	if (a.Username != "" || a.Password != "") && (a.PassCredentials || (repoURL != nil && repoURL.Host == u.Host)) {
		req.SetBasicAuth(a.Username, a.Password)
	}
	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, h.errorf("GET %s: %w", RedactURL(raw), ctx.Err())
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error repeats the URL, credentials and all
		}
		return nil, h.errorf("GET %s: %w", RedactURL(raw), err)
	}
	switch {
	case resp.StatusCode == http.StatusNotModified:
		resp.Body.Close()
		return nil, errNotModified
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		resp.Body.Close()
		return nil, h.errorf("GET %s: authentication failed (%s)", RedactURL(raw), resp.Status)
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		return nil, h.errorf("GET %s: %s", RedactURL(raw), resp.Status)
	}
	return resp, nil
}

package apply

import (
	"fmt"

	"github.com/fluxcd/cli-utils/pkg/kstatus/polling"
	"github.com/fluxcd/pkg/ssa"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ServiceAccountUser is the user name a ServiceAccount acts as, for
// Unit.Identity: "system:serviceaccount:<namespace>:<name>", as Flux
// impersonates a unit's spec.serviceAccountName.
func ServiceAccountUser(namespace, name string) string {
	return "system:serviceaccount:" + namespace + ":" + name
}

// actor is the Applier acting as one identity: its client and resource
// manager reach the cluster as that user (impersonated), so the server's
// RBAC decides what a unit may apply, read, wait for and delete. The
// inventory store is not the actor's: it stays the Applier's own.
type actor struct {
	*Applier
	client   client.Client
	rm       *ssa.ResourceManager
	identity string // "" for the Applier's own credentials
	// clients reach the cluster as the same identity, for what keeps its
	// own records (Release).
	clients Clients
}

// actorFor returns the actor for identity, made once per Applier.
func (a *Applier) actorFor(identity string) (*actor, error) {
	if identity == "" {
		return a.self, nil
	}
	a.actorsMu.Lock()
	defer a.actorsMu.Unlock()
	if act, ok := a.actors[identity]; ok {
		return act, nil
	}
	cfg := rest.CopyConfig(a.cfg)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: identity}
	act, err := a.newActor(cfg, identity)
	if err != nil {
		return nil, fmt.Errorf("a client acting as %s: %w", identity, err)
	}
	a.actors[identity] = act
	return act, nil
}

// newActor makes the client and resource manager for cfg; the RESTMapper
// is the Applier's, shared by every identity.
func (a *Applier) newActor(cfg *rest.Config, identity string) (*actor, error) {
	httpClient, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, err
	}
	c, err := client.New(cfg, client.Options{Scheme: a.scheme, Mapper: a.mapper, HTTPClient: httpClient})
	if err != nil {
		return nil, err
	}
	kube, err := kubernetes.NewForConfigAndClient(cfg, httpClient)
	if err != nil {
		return nil, err
	}
	meta, err := metadata.NewForConfigAndClient(cfg, httpClient)
	if err != nil {
		return nil, err
	}
	poller := polling.NewStatusPoller(c, a.mapper, polling.Options{})
	rm := ssa.NewResourceManager(c, poller, ssa.Owner{Field: a.opts.FieldManager, Group: "gitopskit.dev"})
	// ssa applies one object at a time by default; CRDs and Namespaces go
	// through it, so let them go in parallel too.
	rm.SetConcurrency(objectConcurrency)
	return &actor{Applier: a, client: c, rm: rm, identity: identity, clients: Clients{Kube: kube, Metadata: meta}}, nil
}

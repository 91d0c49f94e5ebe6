package gitopskit_test

import (
	"context"
	"fmt"
	"log"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/gitopskit/gitopskit"
	"github.com/gitopskit/gitopskit/source"
)

// Reconcile a Flux repository's clusters/dev into the cluster of the
// default kubeconfig, once, and print the units' status.
func ExampleReconciler_Reconcile() {
	cfg, err := clientcmd.BuildConfigFromFlags("", clientcmd.RecommendedHomeFile)
	if err != nil {
		log.Fatal(err)
	}
	r, err := gitopskit.New(gitopskit.Options{
		Source: source.NewGit("https://github.com/acme/fleet", source.GitOptions{}),
		Path:   "clusters/dev",
		Config: cfg,
	})
	if err != nil {
		log.Fatal(err)
	}
	res, err := r.Reconcile(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(r.Status())
	if err := res.Err(); err != nil {
		log.Print(err) // failed units; the others are applied
	}
}

// Keep reconciling, reconcile one unit now, and follow every status change.
func ExampleReconciler_Run() {
	cfg, err := clientcmd.BuildConfigFromFlags("", clientcmd.RecommendedHomeFile)
	if err != nil {
		log.Fatal(err)
	}
	r, err := gitopskit.New(gitopskit.Options{
		Source: source.NewDir("./fleet", source.DirOptions{}), // a working tree, uncommitted changes included
		Path:   "clusters/dev",
		Config: cfg,
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	go func() {
		for s := range r.Watch(ctx) {
			fmt.Println(s.ID, s.Ready, s.Message)
		}
	}()
	r.Trigger("Kustomization/flux-system/apps", gitopskit.UnitOnly)
	if err := r.Run(ctx); err != nil {
		log.Fatal(err)
	}
}

// Package gitopstest checks a Flux repository from a team's own go test,
// offline: no cluster, and no network when its sources are mirrored.
//
// Load renders the repository (render.Load, with mirrors, a Kubernetes
// version and the APIs the cluster serves without a CRD) and gives a Repo;
// each check is a method that reports what it finds through testing.TB,
// naming the unit, the file that defines it, the object and the file the
// object comes from:
//
//   - CheckRenders: every unit renders, with no warning the test did not
//     allow (Options.AllowWarnings);
//   - CheckNoCycles: the units order — no dependency cycle;
//   - CheckCRDs: every custom resource's CRD comes from its own unit or one
//     applied before it (or is preinstalled);
//   - CheckNoSharedObjects: no object is rendered differently by two units
//     (Options.StrictSharing: no object by two units at all), unless
//     allowed (Options.AllowShared);
//   - CheckReferences: every dependsOn, health check and source reference
//     resolves;
//   - CheckPolicy: the caller's own rules, functions over objects;
//   - CheckAll: all of the above;
//   - Golden: each unit's objects (Secrets masked) against golden files,
//     rewritten when the -update flag RegisterUpdateFlag defines is set.
//
// A team's whole CI test can be three lines:
//
//	func TestFleet(t *testing.T) {
//		repo := gitopstest.Load(t, gitopstest.Options{Dir: "..", Path: "clusters/prod"})
//		repo.CheckAll(t)
//		repo.Golden(t, "testdata/golden", *update)
//	}
//
// The package registers no flag and keeps no state when imported; a Repo is
// read-only once loaded, so checks may run in parallel subtests.
package gitopstest

package testenv

// Versions of the servers the nested module in ./binaries builds. They must
// agree with binaries/go.mod; TestVersionsMatchModule checks that they do.
const (
	KubernetesVersion = "v1.37.2"
	EtcdVersion       = "v3.7.3"
)

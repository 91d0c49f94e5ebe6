package inventory

import "testing"

// FuzzParseLine: no stored line makes the parser panic, and whatever
// parses is written back as the same line.
func FuzzParseLine(f *testing.F) {
	for _, s := range []string{
		"web_api_apps_Deployment_v1_3f2a9c0d11e4b5a6",
		"_system:my_role_rbac.authorization.k8s.io_ClusterRole_v1",
		"web_My_Bad_Name__ConfigMap_v1_0123456789abcdef",
		"__", "a_b_c_d", "ns_name_group_Kind_v1beta1_",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := parseLine(s)
		if err != nil {
			return
		}
		again, err := parseLine(e.line())
		if err != nil || again != e {
			t.Fatalf("%q parsed as %+v, written as %q, read back as %+v (%v)", s, e, e.line(), again, err)
		}
	})
}

package render

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	yamlv2 "go.yaml.in/yaml/v2"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/release"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/resource"
)

// Provenance says where a rendered object came from.
type Provenance struct {
	// Unit is the ID of the unit that rendered it, e.g.
	// "Kustomization/flux-system/apps".
	Unit string
	// File is the source file, relative to the artifact root, for
	// Kustomize; the template path inside the chart for Helm (e.g.
	// "podinfo/templates/deployment.yaml"); empty for generated objects.
	File string
	// Revision is the source artifact's revision.
	Revision string
	// Chart is "<name>-<version>" and ChartDigest the chart artifact's
	// digest, for Helm.
	Chart, ChartDigest string
}

// Object is one rendered Kubernetes object with its provenance.
type Object struct {
	*unstructured.Unstructured
	Provenance Provenance
}

// Result is what rendering one unit produced.
type Result struct {
	Unit    string
	Objects []Object
	// Hooks are Helm hooks, kept apart from the objects a release applies.
	Hooks []Hook
	// Warnings are things the renderer noticed and did not act on, such as
	// Flux spec fields gitopskit does not implement.
	Warnings []string
	// Rejected are Flux units in the output that could not be read, left
	// out of Objects; each fails alone.
	Rejected []RejectedUnit
	// Release is, for a HelmRelease, what Helm keeps in its release record.
	Release *ReleaseInfo
}

// ReleaseInfo is a rendered HelmRelease as a Helm release: what Helm keeps
// in its record of each revision, so that helm list, history, get and
// rollback see what gitopskit applied.
type ReleaseInfo struct {
	// Name and Namespace are the release's.
	Name, Namespace string
	// StorageNamespace is where the records are kept; MaxHistory how many
	// (0: all).
	StorageNamespace string
	MaxHistory       int
	// KeepHistory keeps the records, marked uninstalled, when the release
	// is removed.
	KeepHistory bool
	// DisableUninstallHooks runs no delete hooks when the release is
	// removed.
	DisableUninstallHooks bool
	// Tests, when set, are to run after each install or upgrade.
	Tests *ReleaseTests
	// DriftMode is what is done about drift of an unchanged release's
	// objects (spec.driftDetection.mode): "enabled" corrects it, "warn"
	// reports it, "disabled" neither looks nor corrects; "" (the field
	// absent) is gitopskit's default, correcting it, where Flux's default
	// is disabled.
	DriftMode string
	// DriftIgnore are the fields whose drift is neither reported nor
	// corrected (spec.driftDetection.ignore).
	DriftIgnore []DriftIgnoreRule
	// CreateNamespace creates the release's namespace when it is missing
	// (spec.install.createNamespace), as Helm does: never changed or
	// deleted afterwards.
	CreateNamespace bool
	// DisableHooks says the hooks of this install or upgrade are not run
	// (spec.install.disableHooks or spec.upgrade.disableHooks).
	DisableHooks bool
	// Remediation is what is done when this install or upgrade fails
	// (spec.install.remediation or spec.upgrade.remediation, with Flux's
	// defaults).
	Remediation ReleaseRemediation
	// Chart is the chart as rendered (sub-charts its conditions disabled
	// removed). It is shared: do not change it.
	Chart *chart.Chart
	// Values are the values given to the chart (valuesFrom, then
	// spec.values): Helm's user-supplied values.
	Values map[string]any
	// Manifest is what the chart's templates rendered, as Helm writes it:
	// each object after "---" and a "# Source:" line, without the CRDs of
	// crds/ directories and without hooks.
	Manifest string
	// Hooks are the chart's hooks as Helm records them.
	Hooks []*release.Hook
	// Revision and IsUpgrade are what the chart was rendered as
	// (.Release.Revision, .Release.IsUpgrade); ConfigDigest is the
	// ConfigDigestLabel its record carries.
	Revision     int
	IsUpgrade    bool
	ConfigDigest string
}

// Hook is a Helm hook resource with its phases and weight.
type Hook struct {
	Object
	// Events are the hook annotations' phases, e.g. "pre-install".
	Events []string
	Weight int
	// DeletePolicies are the helm.sh/hook-delete-policy values, e.g.
	// "before-hook-creation"; empty when the annotation is absent.
	DeletePolicies []string
}

// decodeObject reads one YAML or JSON object as the API machinery reads
// YAML (sigs.k8s.io/yaml to JSON, then JSON into an Unstructured): the
// same YAML parser, the same map keys, integers as int64, whole floats as
// int64 where the JSON text would be an integer, invalid UTF-8 replaced,
// NaN and infinities refused, a kind required. It builds the object from
// the parsed YAML directly instead of printing and parsing JSON, which
// halves the cost of decoding large manifests such as CRDs. An empty or
// null document gives an empty object.
func decodeObject(b []byte) (*unstructured.Unstructured, error) {
	var y any
	if err := yamlv2.Unmarshal(b, &y); err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{}
	if y == nil {
		return u, nil
	}
	v, err := jsonValue(y)
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("json: cannot unmarshal %s into Go value of type map[string]interface {}", jsonKind(v))
	}
	u.Object = m
	if u.GetKind() == "" {
		return nil, fmt.Errorf("Object 'Kind' is missing in the document (apiVersion %q)", u.GetAPIVersion())
	}
	return u, nil
}

// jsonValue converts what the YAML parser returns into what decoding its
// JSON form would return, without the JSON.
func jsonValue(y any) (any, error) {
	switch y := y.(type) {
	case map[any]any:
		m := make(map[string]any, len(y))
		for k, v := range y {
			key, err := jsonKey(k, v)
			if err != nil {
				return nil, err
			}
			if m[validUTF8(key)], err = jsonValue(v); err != nil {
				return nil, err
			}
		}
		return m, nil
	case []any:
		out := make([]any, len(y))
		for i, v := range y {
			var err error
			if out[i], err = jsonValue(v); err != nil {
				return nil, err
			}
		}
		return out, nil
	case string:
		return validUTF8(y), nil
	case int:
		return int64(y), nil
	case int64:
		return y, nil
	case uint64:
		// Too big for int64: JSON decoding makes it a float.
		return float64(y), nil
	case float64:
		if math.IsNaN(y) || math.IsInf(y, 0) {
			return nil, fmt.Errorf("json: unsupported value: %s", strconv.FormatFloat(y, 'g', -1, 64))
		}
		// JSON prints a whole float below 1e21 as its shortest digits
		// without a fraction or exponent, and decoding reads those back as
		// an integer when they fit in int64.
		if y == math.Trunc(y) && math.Abs(y) < 1e21 {
			if i, err := strconv.ParseInt(strconv.FormatFloat(y, 'f', -1, 64), 10, 64); err == nil {
				return i, nil
			}
		}
		return y, nil
	case bool, nil:
		return y, nil
	default:
		return nil, fmt.Errorf("unsupported YAML value of type %T", y)
	}
}

// jsonKey is a YAML map key as sigs.k8s.io/yaml turns it into a JSON
// object key.
func jsonKey(k, v any) (string, error) {
	switch k := k.(type) {
	case string:
		return k, nil
	case int:
		return strconv.Itoa(k), nil
	case int64:
		return strconv.FormatInt(k, 10), nil
	case float64:
		switch s := strconv.FormatFloat(k, 'g', -1, 32); s {
		case "+Inf":
			return ".inf", nil
		case "-Inf":
			return "-.inf", nil
		case "NaN":
			return ".nan", nil
		default:
			return s, nil
		}
	case bool:
		return strconv.FormatBool(k), nil
	default:
		return "", fmt.Errorf("unsupported map key of type: %T, key: %+#v, value: %+#v", k, k, v)
	}
}

// validUTF8 replaces each byte that is not valid UTF-8 with U+FFFD, as
// encoding/json does.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b.WriteString("\uFFFD")
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

func jsonKind(v any) string {
	switch v.(type) {
	case []any:
		return "array"
	case string:
		return "string"
	case bool:
		return "bool"
	default:
		return "number"
	}
}

// MarshalYAML prints an object (an Unstructured's Object) as YAML exactly
// as sigs.k8s.io/yaml.Marshal does — keys in the same order, the same
// quoting, numbers as their JSON form reads back — without its JSON round
// trip (print JSON, parse it as YAML, print YAML), which on large objects
// such as CRDs costs more than rendering them. The object must hold only
// what JSON can: maps with string keys, slices, strings, bools, numbers
// and nil.
func MarshalYAML(obj map[string]any) ([]byte, error) {
	v, err := yamlValue(obj)
	if err != nil {
		return nil, err
	}
	return yamlv2.Marshal(v)
}

// yamlValue is v as the YAML parser would read back its JSON form: whole
// floats that JSON prints as digits become the integers YAML reads them
// as. It refuses what JSON cannot print (NaN, infinities) or would print
// differently (strings that are not UTF-8).
func yamlValue(v any) (any, error) {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			if !utf8.ValidString(k) {
				return nil, fmt.Errorf("key %q is not valid UTF-8", k)
			}
			var err error
			if out[k], err = yamlValue(e); err != nil {
				return nil, err
			}
		}
		return out, nil
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			var err error
			if out[i], err = yamlValue(e); err != nil {
				return nil, err
			}
		}
		return out, nil
	case string:
		if !utf8.ValidString(v) {
			return nil, fmt.Errorf("string %q is not valid UTF-8", v)
		}
		return v, nil
	case float32:
		return yamlValue(float64(v))
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("json: unsupported value: %s", strconv.FormatFloat(v, 'g', -1, 64))
		}
		if v == math.Trunc(v) && math.Abs(v) < 1e21 {
			digits := strconv.FormatFloat(v, 'f', -1, 64)
			if i, err := strconv.ParseInt(digits, 10, 64); err == nil {
				return i, nil
			}
			if u, err := strconv.ParseUint(digits, 10, 64); err == nil {
				return u, nil
			}
		}
		return v, nil
	case nil, bool, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return v, nil
	default:
		return nil, fmt.Errorf("unsupported value of type %T", v)
	}
}

// resourceObject converts a kustomize resource straight through JSON, the
// cheapest way there (its YAML form would be parsed twice).
func resourceObject(r *resource.Resource) (*unstructured.Unstructured, error) {
	j, err := r.MarshalJSON()
	if err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(j); err != nil {
		return nil, err
	}
	return u, nil
}

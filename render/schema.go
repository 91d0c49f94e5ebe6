package render

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"helm.sh/helm/v3/pkg/chart"

	"github.com/gitopskit/gitopskit/internal/memo"
	"github.com/gitopskit/gitopskit/source"
)

// schemaTimeout bounds fetching one $ref that a mirror maps to an HTTP
// server.
const schemaTimeout = 30 * time.Second

// compiledSchemas keeps compiled values.schema.json files by their content
// and the mirrors their references went through: compiling a large schema
// (cert-manager's) costs more than rendering the chart's templates.
var compiledSchemas = memo.New[[sha256.Size]byte, *jsonschema.Schema](256)

// validateValues checks values against the chart's values.schema.json and
// each sub-chart's against its own, as Helm's install does (the same
// recursion and message), with two differences: compiled schemas are kept
// per process, and a $ref to another document is resolved through the
// mirrors only — gitopskit does not fetch schemas from the network, which
// would make a render hang or depend on it silently. A reference to a
// local file is refused (a chart may not read the machine's files);
// "urn:" references nobody resolves are permissive, as in Helm, with a
// warning.
func validateValues(ctx context.Context, ch *chart.Chart, values map[string]any, mirrors source.Mirrors) (warnings []string, err error) {
	defer func() {
		// As Helm does: a schema the validator cannot handle is an
		// error, not a crash.
		if r := recover(); r != nil {
			err = fmt.Errorf("%s: unable to validate schema: %v", ch.Name(), r)
		}
	}()
	var sb strings.Builder
	if ch.Schema != nil {
		s, warns, err := compileSchema(ctx, ch, mirrors)
		warnings = append(warnings, warns...)
		if err != nil {
			return warnings, err
		}
		if err := s.Validate(values); err != nil {
			msg := strings.TrimPrefix(err.Error(), "jsonschema validation failed with 'file:///values.schema.json#'\n")
			fmt.Fprintf(&sb, "%s:\n%s\n", ch.Name(), msg)
		}
	}
	for _, sub := range ch.Dependencies() {
		raw, ok := values[sub.Name()]
		if !ok || raw == nil {
			continue
		}
		subValues, ok := raw.(map[string]any)
		if !ok {
			fmt.Fprintf(&sb, "%s:\ninvalid type for values: expected object (map), got %T\n", sub.Name(), raw)
			continue
		}
		warns, err := validateValues(ctx, sub, subValues, mirrors)
		warnings = append(warnings, warns...)
		if err != nil {
			var invalid *invalidValuesError
			if !errors.As(err, &invalid) {
				return warnings, err
			}
			sb.WriteString(invalid.msg)
		}
	}
	if sb.Len() > 0 {
		return warnings, &invalidValuesError{msg: sb.String()}
	}
	return warnings, nil
}

// invalidValuesError is values that do not meet a chart's schema, in
// Helm's words.
type invalidValuesError struct{ msg string }

func (e *invalidValuesError) Error() string {
	return "values don't meet the specifications of the schema(s) in the following chart(s):\n" + e.msg
}

func compileSchema(ctx context.Context, ch *chart.Chart, mirrors source.Mirrors) (*jsonschema.Schema, []string, error) {
	h := sha256.New()
	h.Write(ch.Schema)
	for _, from := range slices.Sorted(maps.Keys(mirrors)) {
		fmt.Fprintf(h, "\x00%s=%s", from, mirrors[from])
	}
	var key [sha256.Size]byte
	copy(key[:], h.Sum(nil))
	if s, ok := compiledSchemas.Get(key); ok {
		return s, nil, nil
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(ch.Schema))
	if err != nil {
		return nil, nil, fmt.Errorf("%s: values.schema.json: %w", ch.Name(), err)
	}
	loader := &schemaLoader{ctx: ctx, chart: ch.Name(), mirrors: mirrors}
	c := jsonschema.NewCompiler()
	c.UseLoader(jsonschema.SchemeURLLoader{"file": loader, "http": loader, "https": loader, "urn": loader})
	if err := c.AddResource("file:///values.schema.json", doc); err != nil {
		return nil, nil, fmt.Errorf("%s: values.schema.json: %w", ch.Name(), err)
	}
	s, err := c.Compile("file:///values.schema.json")
	if err != nil {
		if loader.err != nil {
			return nil, loader.warnings, loader.err
		}
		return nil, loader.warnings, fmt.Errorf("%s: values.schema.json: %w", ch.Name(), err)
	}
	if len(loader.warnings) == 0 {
		compiledSchemas.Put(key, s)
	}
	return s, loader.warnings, nil
}

// schemaLoader loads the documents a values.schema.json refers to.
type schemaLoader struct {
	ctx      context.Context
	chart    string
	mirrors  source.Mirrors
	mu       sync.Mutex
	warnings []string
	err      error // the first refusal, named for the user
}

func (l *schemaLoader) refuse(err error) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err == nil {
		l.err = err
	}
	return err
}

func (l *schemaLoader) Load(ref string) (any, error) {
	u, err := url.Parse(ref)
	if err != nil {
		return nil, l.refuse(fmt.Errorf("%s: values.schema.json refers to %q, which is not a URL: %w", l.chart, ref, err))
	}
	switch u.Scheme {
	case "urn":
		l.mu.Lock()
		l.warnings = append(l.warnings, fmt.Sprintf("%s: values.schema.json refers to %s, which nothing resolves: that part of the schema accepts anything, as in Helm", l.chart, ref))
		l.mu.Unlock()
		return true, nil
	case "file":
		return nil, l.refuse(fmt.Errorf("%s: values.schema.json refers to the local file %s, which a chart may not read; set spec.install.disableSchemaValidation to render without the schema", l.chart, ref))
	}
	mirrored := l.mirrors.Rewrite(ref)
	if mirrored == ref {
		return nil, l.refuse(fmt.Errorf("%s: values.schema.json refers to %s, and gitopskit does not fetch schemas from the network: mirror it (LoadOptions.Mirrors, or the cli's -mirror %s=file:///<dir>), or set spec.install.disableSchemaValidation",
			l.chart, source.RedactURL(ref), source.RedactURL(strings.TrimSuffix(ref, u.Path)+"/")))
	}
	m, err := url.Parse(mirrored)
	if err != nil {
		return nil, l.refuse(fmt.Errorf("%s: the mirror of %s, %q, is not a URL: %w", l.chart, source.RedactURL(ref), source.RedactURL(mirrored), err))
	}
	var body io.ReadCloser
	switch m.Scheme {
	case "file":
		f, err := os.Open(m.Path)
		if err != nil {
			return nil, l.refuse(fmt.Errorf("%s: values.schema.json refers to %s, mirrored to %s: %w", l.chart, source.RedactURL(ref), mirrored, err))
		}
		body = f
	case "http", "https":
		ctx, cancel := context.WithTimeout(l.ctx, schemaTimeout)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, mirrored, nil)
		if err != nil {
			return nil, l.refuse(fmt.Errorf("%s: %s: %w", l.chart, source.RedactURL(mirrored), err))
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, l.refuse(fmt.Errorf("%s: values.schema.json refers to %s, mirrored to %s: %w", l.chart, source.RedactURL(ref), source.RedactURL(mirrored), err))
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			return nil, l.refuse(fmt.Errorf("%s: values.schema.json refers to %s, mirrored to %s: %s", l.chart, source.RedactURL(ref), source.RedactURL(mirrored), resp.Status))
		}
		body = resp.Body
	default:
		return nil, l.refuse(fmt.Errorf("%s: the mirror of %s, %s, is neither file:// nor http(s)://", l.chart, source.RedactURL(ref), source.RedactURL(mirrored)))
	}
	defer body.Close()
	doc, err := jsonschema.UnmarshalJSON(io.LimitReader(body, 16<<20))
	if err != nil {
		return nil, l.refuse(fmt.Errorf("%s: values.schema.json refers to %s: not JSON: %w", l.chart, source.RedactURL(ref), err))
	}
	return doc, nil
}

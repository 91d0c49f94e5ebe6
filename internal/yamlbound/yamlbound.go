// Package yamlbound refuses YAML whose aliases expand beyond a bound (a
// "billion laughs" document: a kilobyte of nested aliases that a decoder
// which expands them turns into gigabytes), before a decoder without its
// own bound — kustomize's, which copies every alias in place — sees it.
package yamlbound

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"go.yaml.in/yaml/v3"
)

// MaxNodes is the most nodes a document may expand to through aliases
// when that is also more than Ratio times the nodes it spells out. A
// document without aliases is never refused, however large.
const (
	MaxNodes = 1 << 20
	Ratio    = 10
)

// ErrExpansion is wrapped by the errors Check returns for a document
// whose aliases expand too far.
var ErrExpansion = errors.New("YAML aliases expand too far")

// Check reports whether data, one or more YAML documents, expands within
// the bound. Data that does not parse is not its business: the decoder
// that reads it next reports that, in its own words. Check parses only
// when data has an anchor at all, so it costs next to nothing for the
// usual file.
func Check(data []byte) error {
	if !bytes.Contains(data, []byte("&")) || !bytes.Contains(data, []byte("*")) {
		return nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for doc := 1; ; doc++ {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return nil
		}
		c := counter{memo: map[*yaml.Node]int{}}
		literal := c.literal(&n)
		limit := max(MaxNodes, Ratio*literal)
		c.limit = limit
		expanded, err := c.expanded(&n)
		if err != nil {
			return fmt.Errorf("document %d: %w", doc, err)
		}
		if expanded > limit {
			return fmt.Errorf("document %d: %w: %d nodes spelled out expand to more than %d", doc, ErrExpansion, literal, limit)
		}
	}
}

// counter counts nodes, expanded through aliases or not.
type counter struct {
	memo  map[*yaml.Node]int // expanded size of nodes already counted
	busy  map[*yaml.Node]bool
	limit int
}

// literal counts the nodes as written, an alias being one node.
func (c *counter) literal(n *yaml.Node) int {
	total := 1
	for _, ch := range n.Content {
		total += c.literal(ch)
	}
	return total
}

// expanded counts the nodes with every alias replaced by what it names,
// stopping once past the limit. Each node is counted once (memo), so a
// bomb costs time in proportion to its size as written.
func (c *counter) expanded(n *yaml.Node) (int, error) {
	if v, ok := c.memo[n]; ok {
		return v, nil
	}
	if c.busy == nil {
		c.busy = map[*yaml.Node]bool{}
	}
	if c.busy[n] {
		return 0, fmt.Errorf("%w: an alias names a node that holds it (line %d)", ErrExpansion, n.Line)
	}
	c.busy[n] = true
	defer delete(c.busy, n)
	total := 1
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		v, err := c.expanded(n.Alias)
		if err != nil {
			return 0, err
		}
		total = v
	}
	for _, ch := range n.Content {
		v, err := c.expanded(ch)
		if err != nil {
			return 0, err
		}
		total += v
		if total > c.limit {
			total = c.limit + 1 // saturate: the answer is "too many"
		}
	}
	c.memo[n] = total
	return total, nil
}

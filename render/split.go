package render

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// splitYAML splits a stream of YAML documents as the API machinery's
// YAMLReader splits it (what Helm's install action uses for a chart's
// crds/ files, and kubectl for manifests): at lines that begin with "---",
// which may be followed only by spaces and a comment. A separator that
// ends a document is dropped; one that starts the stream, or follows
// another, is kept at the start of the next document, as the YAMLReader
// keeps it (a YAML parser reads it as the document start). It returns pieces
// of data instead of copies, which for megabytes of CRDs saves as much
// again in buffers. A stream the YAMLReader would change while reading it
// (one with "\r\n" line ends, which it makes "\n", or whose last line has
// no line end, which it adds) goes through the YAMLReader itself, so the
// documents are always exactly the YAMLReader's.
func splitYAML(data []byte) ([][]byte, error) {
	if len(data) == 0 {
		return nil, nil
	}
	if bytes.IndexByte(data, '\r') >= 0 || data[len(data)-1] != '\n' {
		return splitYAMLReader(data)
	}
	var docs [][]byte
	start := 0 // where the current document begins
	for pos := 0; pos < len(data); {
		end := pos + bytes.IndexByte(data[pos:], '\n') // data ends with '\n'
		if line := data[pos:end]; bytes.HasPrefix(line, []byte("---")) {
			if rest := bytes.TrimSpace(line[3:]); len(rest) > 0 && rest[0] != '#' {
				return nil, fmt.Errorf("invalid Yaml document separator: %s", rest)
			}
			// A separator ends a document; one that would begin an
			// empty document stays, as the document's first line.
			if pos > start {
				docs = append(docs, data[start:pos])
				start = end + 1
			}
		}
		pos = end + 1
	}
	if start < len(data) {
		docs = append(docs, data[start:])
	}
	return docs, nil
}

// splitYAMLReader is splitYAML through the YAMLReader.
func splitYAMLReader(data []byte) ([][]byte, error) {
	var docs [][]byte
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for {
		d, err := r.Read()
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		docs = append(docs, d)
	}
}

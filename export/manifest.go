package export

import (
	"encoding/json"
	"fmt"
)

// ManifestName is the name of the file that holds an export's manifest,
// beside its data files.
const ManifestName = "manifest.json"

// WriteManifest writes m as manifest.json into sink: indented JSON and a
// final newline, so that the same manifest always makes the same bytes.
// Write it after Run returns: the manifest lists the files written before
// it, not itself.
func WriteManifest(sink Sink, m *Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	w, err := sink.Create(ManifestName)
	if err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	if _, err := w.Write(append(b, '\n')); err != nil {
		w.Close()
		return fmt.Errorf("manifest: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	return nil
}

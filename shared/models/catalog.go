// Package models reads the model catalog: one folder per model under the
// models directory, each with a manifest.json. Ingest validates requests
// against it and runners load the files it names. It replaces the original
// app's MODEL_<N> settings, whose steps {min, max, default} it keeps.
package models

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"cyberimage/shared/job"
)

// ManifestFile is the name of a model's manifest inside its folder.
const ManifestFile = "manifest.json"

// Manifest describes one model.
type Manifest struct {
	Name        string `json:"name"`
	Pipeline    string `json:"pipeline"`
	Description string `json:"description"`
	File        string `json:"file"`
	Steps       struct {
		Min     int `json:"min"`
		Max     int `json:"max"`
		Default int `json:"default"`
	} `json:"steps"`
	Guidance struct {
		Default float64 `json:"default"`
	} `json:"guidance"`
	// Memory is how the pipeline's memory grows with a job (see job.Memory);
	// absent, job.DefaultMemory applies.
	Memory job.Memory `json:"memory"`

	// Dir is the model's folder, set when loaded.
	Dir string `json:"-"`
}

// Path is the absolute path of the model file.
func (m Manifest) Path() string { return filepath.Join(m.Dir, m.File) }

// Limits are the manifest's bounds for validation.
func (m Manifest) Limits() job.ModelLimits {
	return job.ModelLimits{
		Name:            m.Name,
		DefaultSteps:    m.Steps.Default,
		MinSteps:        m.Steps.Min,
		MaxSteps:        m.Steps.Max,
		DefaultGuidance: m.Guidance.Default,
		Memory:          m.Memory.OrDefault(),
	}
}

// Catalog is the set of configured models and the default one.
type Catalog struct {
	byName      map[string]Manifest
	defaultName string
}

// Load reads every <dir>/*/manifest.json. defaultName must be one of them;
// empty picks the only model, or "demo".
func Load(dir, defaultName string) (*Catalog, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*", ManifestFile))
	if err != nil {
		return nil, fmt.Errorf("models %s: %w", dir, err)
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("models %s: no */%s found", dir, ManifestFile)
	}
	c := &Catalog{byName: map[string]Manifest{}}
	for _, p := range paths {
		m, err := readManifest(p)
		if err != nil {
			return nil, err
		}
		if _, dup := c.byName[m.Name]; dup {
			return nil, fmt.Errorf("models %s: name %q used twice", dir, m.Name)
		}
		c.byName[m.Name] = m
	}
	switch {
	case defaultName != "":
	case len(c.byName) == 1:
		defaultName = c.Names()[0]
	default:
		defaultName = "demo"
	}
	if _, ok := c.byName[defaultName]; !ok {
		return nil, fmt.Errorf("default model %q is not in %s (have %v)", defaultName, dir, c.Names())
	}
	c.defaultName = defaultName
	return c, nil
}

func readManifest(path string) (Manifest, error) {
	var m Manifest
	data, err := os.ReadFile(path)
	if err != nil {
		return m, fmt.Errorf("manifest: %w", err)
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return m, fmt.Errorf("manifest %s: %w", path, err)
	}
	abs, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return m, fmt.Errorf("manifest %s: %w", path, err)
	}
	m.Dir = abs
	var problems []error
	if m.Name == "" || m.Name != filepath.Base(m.Dir) {
		problems = append(problems, fmt.Errorf("name %q must equal the folder name %q", m.Name, filepath.Base(m.Dir)))
	}
	if m.File == "" || m.Pipeline == "" {
		problems = append(problems, errors.New("file and pipeline are required"))
	}
	if m.Steps.Default < 1 || (m.Steps.Max > 0 && m.Steps.Default > m.Steps.Max) || m.Steps.Default < m.Steps.Min {
		problems = append(problems, fmt.Errorf("steps.default %d outside [%d, %d]", m.Steps.Default, m.Steps.Min, m.Steps.Max))
	}
	if err := m.Memory.Validate(); err != nil {
		problems = append(problems, err)
	}
	if err := errors.Join(problems...); err != nil {
		return m, fmt.Errorf("manifest %s: %w", path, err)
	}
	return m, nil
}

// Default is the model used when a request names none.
func (c *Catalog) Default() string { return c.defaultName }

// Lookup returns a model's validation limits.
func (c *Catalog) Lookup(name string) (job.ModelLimits, bool) {
	m, ok := c.byName[name]
	return m.Limits(), ok
}

// Manifest returns a model's manifest.
func (c *Catalog) Manifest(name string) (Manifest, bool) {
	m, ok := c.byName[name]
	return m, ok
}

// Names lists the models, sorted.
func (c *Catalog) Names() []string {
	names := make([]string, 0, len(c.byName))
	for n := range c.byName {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Package workspaces reads the workspaces file (WORKSPACES_FILE): the
// Swonkie workspaces one deployment publishes for, each with its
// credentials' whereabouts and its limits, and the API tokens scoped to
// some of them. It checks the file whole before anything starts, and
// names the workspace and the field of what is wrong in one line.
//
// Keys are never in the file: each workspace names the environment
// variable (apiKeyEnv) or the file (apiKeyFile) that holds its key, so
// the workspaces file can be committed and reviewed.
package workspaces

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"regexp"
	"slices"
	"strings"
)

// DefaultName is the workspace of a deployment configured the old way,
// by SWONKIE_API_ID and SWONKIE_API_KEY alone.
const DefaultName = "default"

// AllWorkspaces in a token's workspaces gives it every workspace.
const AllWorkspaces = "*"

// Workspace is one Swonkie workspace the deployment publishes for.
type Workspace struct {
	// Name is how requests, records, tokens, metrics and the page name it;
	// a short word (namePattern), bounded so it can be a metric label.
	Name  string `json:"name"`
	APIID string `json:"apiId"`
	// APIKeyEnv or APIKeyFile (exactly one) say where the key is.
	APIKeyEnv  string `json:"apiKeyEnv,omitempty"`
	APIKeyFile string `json:"apiKeyFile,omitempty"`
	// BaseURL defaults to SWONKIE_BASE_URL.
	BaseURL string `json:"baseUrl,omitempty"`
	// RateLimit and RateBurst are the workspace's fleet-wide call budget;
	// 0 takes SWONKIE_RATE_LIMIT and SWONKIE_RATE_BURST.
	RateLimit float64 `json:"rateLimit,omitempty"`
	RateBurst int     `json:"rateBurst,omitempty"`
	// MaxActive, when above 0, is how many of the workspace's pipelines
	// may hold worker slots at once, fleet-wide.
	MaxActive int `json:"maxActive,omitempty"`

	// APIKey is the key read from APIKeyEnv or APIKeyFile. It is never
	// marshalled, logged or stored.
	APIKey string `json:"-"`
}

// String names the workspace without its key, should it ever be printed.
func (w Workspace) String() string { return fmt.Sprintf("workspace %q (apiId %s)", w.Name, w.APIID) }

// Token is an API token scoped to some workspaces, known by the SHA-256
// of its value.
type Token struct {
	// Name is what the access log and the page call the token.
	Name string `json:"name"`
	// SHA256 is the lower-case hex SHA-256 of the token's value.
	SHA256 string `json:"sha256"`
	// Workspaces are the names it may act on; "*" is all of them.
	Workspaces []string `json:"workspaces"`
}

// All reports whether the token may act on every workspace.
func (t Token) All() bool { return slices.Contains(t.Workspaces, AllWorkspaces) }

// Allows reports whether the token may act on the workspace name.
func (t Token) Allows(name string) bool { return t.All() || slices.Contains(t.Workspaces, name) }

// Config is a checked workspaces file (or the single default workspace).
type Config struct {
	Workspaces []Workspace
	Tokens     []Token
}

// Names lists the workspaces' names, in the file's order.
func (c *Config) Names() []string {
	out := make([]string, len(c.Workspaces))
	for i, w := range c.Workspaces {
		out[i] = w.Name
	}
	return out
}

// Get returns the workspace called name.
func (c *Config) Get(name string) (Workspace, bool) {
	for _, w := range c.Workspaces {
		if w.Name == name {
			return w, true
		}
	}
	return Workspace{}, false
}

// Defaults are what a workspace that leaves a field out gets.
type Defaults struct {
	BaseURL   string
	RateLimit float64
	RateBurst int
}

// Single is the configuration of a deployment without a workspaces file:
// one workspace, DefaultName, on SWONKIE_API_ID and SWONKIE_API_KEY.
func Single(apiID, apiKey string, d Defaults) *Config {
	return &Config{Workspaces: []Workspace{{
		Name: DefaultName, APIID: apiID, APIKey: apiKey,
		BaseURL: d.BaseURL, RateLimit: d.RateLimit, RateBurst: d.RateBurst,
	}}}
}

// namePattern bounds workspace and token names: they are label values and
// path segments.
var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$`)

// MaxWorkspaces bounds the file, and with it the cardinality of the
// workspace label.
const MaxWorkspaces = 200

// Load reads and checks the workspaces file at path; getenv reads the
// apiKeyEnv variables. Every error is one line naming the file, the
// workspace (or token) and the field.
func Load(path string, getenv func(string) string, d Defaults) (*Config, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("workspaces file: %w", err)
	}
	c, err := Parse(raw, getenv, d)
	if err != nil {
		return nil, fmt.Errorf("workspaces file %s: %w", path, err)
	}
	return c, nil
}

// file is the JSON shape; entries are decoded one by one, strictly, so an
// unknown field is named with its workspace.
type file struct {
	Workspaces []json.RawMessage `json:"workspaces"`
	Tokens     []json.RawMessage `json:"tokens"`
}

// Parse checks a workspaces file's content; see Load.
func Parse(raw []byte, getenv func(string) string, d Defaults) (*Config, error) {
	var f file
	if err := strict(raw, &f); err != nil {
		return nil, err
	}
	if len(f.Workspaces) == 0 {
		return nil, errors.New(`"workspaces": want at least one workspace`)
	}
	if len(f.Workspaces) > MaxWorkspaces {
		return nil, fmt.Errorf(`"workspaces": %d workspaces, at most %d`, len(f.Workspaces), MaxWorkspaces)
	}
	c := &Config{}
	names, ids := map[string]string{}, map[string]string{}
	for i, entry := range f.Workspaces {
		var w Workspace
		if err := strict(entry, &w); err != nil {
			return nil, fmt.Errorf("workspace %s: %w", entryName(entry, i), err)
		}
		if err := w.check(getenv, d); err != nil {
			return nil, fmt.Errorf("workspace %s: %w", entryName(entry, i), err)
		}
		if _, ok := names[w.Name]; ok {
			return nil, fmt.Errorf("workspace %q: name: used by two workspaces", w.Name)
		}
		if prev, ok := ids[w.APIID]; ok {
			return nil, fmt.Errorf("workspace %q: apiId: the same as workspace %q's", w.Name, prev)
		}
		names[w.Name], ids[w.APIID] = w.APIID, w.Name
		c.Workspaces = append(c.Workspaces, w)
	}
	tokenNames, sums := map[string]bool{}, map[string]string{}
	for i, entry := range f.Tokens {
		var t Token
		if err := strict(entry, &t); err != nil {
			return nil, fmt.Errorf("token %s: %w", entryName(entry, i), err)
		}
		if err := t.check(names); err != nil {
			return nil, fmt.Errorf("token %s: %w", entryName(entry, i), err)
		}
		if tokenNames[t.Name] {
			return nil, fmt.Errorf("token %q: name: used twice", t.Name)
		}
		if prev, ok := sums[t.SHA256]; ok {
			return nil, fmt.Errorf("token %q: sha256: the same as token %q's", t.Name, prev)
		}
		tokenNames[t.Name], sums[t.SHA256] = true, t.Name
		c.Tokens = append(c.Tokens, t)
	}
	return c, nil
}

// entryName names an entry by its "name" when it has a readable one, else
// by its place in the list.
func entryName(raw json.RawMessage, i int) string {
	var named struct {
		Name string `json:"name"`
	}
	if json.Unmarshal(raw, &named) == nil && named.Name != "" && len(named.Name) <= 64 {
		return fmt.Sprintf("%q", named.Name)
	}
	return fmt.Sprintf("#%d", i+1)
}

// strict decodes raw into v refusing unknown fields and trailing data.
func strict(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return fmt.Errorf("%s: unknown field", f)
		}
		return err
	}
	if dec.More() {
		return errors.New("data after the JSON object")
	}
	return nil
}

func (w *Workspace) check(getenv func(string) string, d Defaults) error {
	switch {
	case !namePattern.MatchString(w.Name):
		return fmt.Errorf("name: %q is not 1 to 63 letters, digits, '.', '_' or '-' starting with a letter or digit", w.Name)
	case strings.TrimSpace(w.APIID) == "":
		return errors.New("apiId: required")
	case w.APIKeyEnv != "" && w.APIKeyFile != "":
		return errors.New("apiKeyEnv and apiKeyFile: set one, not both")
	case w.APIKeyEnv == "" && w.APIKeyFile == "":
		return errors.New("apiKeyEnv or apiKeyFile: required (keys are never written in the workspaces file)")
	case w.RateLimit < 0 || math.IsNaN(w.RateLimit) || math.IsInf(w.RateLimit, 0):
		return fmt.Errorf("rateLimit: %v, want a rate above 0 (or leave it out)", w.RateLimit)
	case w.RateBurst < 0:
		return fmt.Errorf("rateBurst: %d, want at least 1 (or leave it out)", w.RateBurst)
	case w.MaxActive < 0:
		return fmt.Errorf("maxActive: %d, want at least 1 (or leave it out)", w.MaxActive)
	}
	if w.APIKeyEnv != "" {
		w.APIKey = strings.TrimSpace(getenv(w.APIKeyEnv))
		if w.APIKey == "" {
			return fmt.Errorf("apiKeyEnv: %s is unset or empty", w.APIKeyEnv)
		}
	} else {
		b, err := os.ReadFile(w.APIKeyFile)
		if err != nil {
			return fmt.Errorf("apiKeyFile: %w", err)
		}
		w.APIKey = strings.TrimSpace(string(b))
		if w.APIKey == "" {
			return fmt.Errorf("apiKeyFile: %s is empty", w.APIKeyFile)
		}
	}
	if w.BaseURL == "" {
		w.BaseURL = d.BaseURL
	}
	if w.RateLimit == 0 {
		w.RateLimit = d.RateLimit
	}
	if w.RateBurst == 0 {
		w.RateBurst = d.RateBurst
	}
	return nil
}

func (t *Token) check(workspaces map[string]string) error {
	switch {
	case !namePattern.MatchString(t.Name):
		return fmt.Errorf("name: %q is not 1 to 63 letters, digits, '.', '_' or '-'", t.Name)
	case len(t.SHA256) != 64:
		return errors.New("sha256: want the 64 hex digits of the token's SHA-256")
	case len(t.Workspaces) == 0:
		return errors.New(`workspaces: want at least one name, or "*" for all`)
	}
	if _, err := hex.DecodeString(t.SHA256); err != nil {
		return errors.New("sha256: want the 64 hex digits of the token's SHA-256")
	}
	t.SHA256 = strings.ToLower(t.SHA256)
	for _, name := range t.Workspaces {
		if _, ok := workspaces[name]; !ok && name != AllWorkspaces {
			return fmt.Errorf("workspaces: no workspace %q in the file", name)
		}
	}
	return nil
}

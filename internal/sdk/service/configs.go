package service

import (
	"fmt"
	"sort"

	"github.com/taskkit/taskkit/internal/sdk/config"
)

// What the configuration endpoints read (the SDK's ConfigQueries). They
// read the store, not the event loop's state.

// ErrBadID marks a configuration ID that cannot be one (the API's 400).
var ErrBadID = fmt.Errorf("not a configuration ID: %w", ErrBadCommand)

// ConfigurationIDs lists the stored configurations' IDs, sorted: the
// target and those stored tasks were launched with.
func (s *Scheduler) ConfigurationIDs() ([]string, error) {
	cs, err := s.cfg.Store.Configurations()
	if err != nil {
		return nil, fmt.Errorf("reading the state store: %w", err)
	}
	ids := make([]string, 0, len(cs))
	for id := range cs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids, nil
}

// TargetID is the target configuration's ID.
func (s *Scheduler) TargetID() string { return s.target.ID }

// Configuration returns configuration id as the API shows it
// (config.Configuration.View, secrets masked): ErrBadID for what cannot be
// an ID, ErrNotFound for one not stored.
func (s *Scheduler) Configuration(id string) ([]byte, error) {
	if !config.ValidID(id) {
		return nil, fmt.Errorf("%q: %w", id, ErrBadID)
	}
	if id == s.target.ID {
		return s.target.View()
	}
	cs, err := s.cfg.Store.Configurations()
	if err != nil {
		return nil, fmt.Errorf("reading the state store: %w", err)
	}
	b, ok := cs[id]
	if !ok {
		return nil, fmt.Errorf("configuration %s: %w", id, ErrNotFound)
	}
	c, err := config.Unmarshal(b)
	if err != nil {
		return nil, err
	}
	return c.View()
}

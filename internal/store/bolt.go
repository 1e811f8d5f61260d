package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

var (
	bMeta    = []byte("meta")
	bConfigs = []byte("Configurations")
	bTasks   = []byte("Tasks")
	bStatus  = []byte("TaskStatus")
	bPlans   = []byte("Plans")
	bProps   = []byte("Properties")
	buckets  = [][]byte{bMeta, bConfigs, bTasks, bStatus, bPlans, bProps}

	kFrameworkID = []byte("FrameworkID")
	kTarget      = []byte("ConfigTarget")
)

// Bolt is the embedded store: one bbolt file, every write a synced
// transaction.
type Bolt struct {
	db   *bolt.DB
	path string
}

// OpenBolt opens (creating if needed) the bbolt file at path. It fails after
// 2 s if another process holds the file, saying so.
func OpenBolt(path string) (*Bolt, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("state store %s: %w", path, err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second, NoFreelistSync: true})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, fmt.Errorf("state store %s is held by another process, another scheduler-lite (or its uninstall) on the same file: one process at a time", path)
	}
	if err != nil {
		return nil, fmt.Errorf("state store %s: %w", path, err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		for _, b := range buckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		db.Close()
		return nil, fmt.Errorf("state store %s: %w", path, err)
	}
	return &Bolt{db: db, path: path}, nil
}

func (s *Bolt) get(bucket, key []byte) ([]byte, error) {
	var out []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucket).Get(key); v != nil {
			out = append([]byte{}, v...)
		}
		return nil
	})
	return out, err
}

func (s *Bolt) put(bucket []byte, kv map[string][]byte) error {
	for k, v := range kv {
		if len(v) > MaxValue {
			return fmt.Errorf("%s/%s: %w", bucket, k, ErrTooLarge)
		}
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		for k, v := range kv {
			if err := b.Put([]byte(k), v); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *Bolt) all(bucket []byte) (map[string][]byte, error) {
	out := map[string][]byte{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucket).ForEach(func(k, v []byte) error {
			out[string(k)] = append([]byte{}, v...)
			return nil
		})
	})
	return out, err
}

// FrameworkID implements Store.
func (s *Bolt) FrameworkID() (string, error) {
	v, err := s.get(bMeta, kFrameworkID)
	return string(v), err
}

// SetFrameworkID implements Store.
func (s *Bolt) SetFrameworkID(id string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		if id == "" {
			return tx.Bucket(bMeta).Delete(kFrameworkID)
		}
		return tx.Bucket(bMeta).Put(kFrameworkID, []byte(id))
	})
}

// Target implements Store.
func (s *Bolt) Target() (string, []byte, error) {
	var id string
	var cfg []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		id = string(tx.Bucket(bMeta).Get(kTarget))
		if v := tx.Bucket(bConfigs).Get([]byte(id)); v != nil {
			cfg = append([]byte{}, v...)
		}
		return nil
	})
	return id, cfg, err
}

// SetTarget implements Store.
func (s *Bolt) SetTarget(id string, config []byte) error {
	if len(config) > MaxValue {
		return fmt.Errorf("configuration %s: %w", id, ErrTooLarge)
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bConfigs).Put([]byte(id), config); err != nil {
			return err
		}
		return tx.Bucket(bMeta).Put(kTarget, []byte(id))
	})
}

// Configurations implements Store.
func (s *Bolt) Configurations() (map[string][]byte, error) { return s.all(bConfigs) }

// DeleteConfigurations implements Store.
func (s *Bolt) DeleteConfigurations(ids ...string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		for _, id := range ids {
			if err := tx.Bucket(bConfigs).Delete([]byte(id)); err != nil {
				return err
			}
		}
		return nil
	})
}

// PutTasks implements Store.
func (s *Bolt) PutTasks(infos map[string][]byte) error { return s.put(bTasks, infos) }

// PutStatus implements Store.
func (s *Bolt) PutStatus(task string, status []byte) error {
	return s.put(bStatus, map[string][]byte{task: status})
}

// PutStatuses implements Store.
func (s *Bolt) PutStatuses(statuses map[string][]byte) error { return s.put(bStatus, statuses) }

// DeleteTasks implements Store.
func (s *Bolt) DeleteTasks(names ...string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		for _, n := range names {
			if err := tx.Bucket(bTasks).Delete([]byte(n)); err != nil {
				return err
			}
			if err := tx.Bucket(bStatus).Delete([]byte(n)); err != nil {
				return err
			}
		}
		return nil
	})
}

// Tasks implements Store.
func (s *Bolt) Tasks() (map[string]Task, error) {
	out := map[string]Task{}
	err := s.db.View(func(tx *bolt.Tx) error {
		st := tx.Bucket(bStatus)
		return tx.Bucket(bTasks).ForEach(func(k, v []byte) error {
			t := Task{Info: append([]byte{}, v...)}
			if sv := st.Get(k); sv != nil {
				t.Status = append([]byte{}, sv...)
			}
			out[string(k)] = t
			return nil
		})
	})
	return out, err
}

// PutPlan implements Store.
func (s *Bolt) PutPlan(name string, progress []byte) error {
	return s.put(bPlans, map[string][]byte{name: progress})
}

// Plans implements Store.
func (s *Bolt) Plans() (map[string][]byte, error) { return s.all(bPlans) }

// Property implements Store.
func (s *Bolt) Property(key string) ([]byte, error) { return s.get(bProps, []byte(key)) }

// PropertyKeys implements Store.
func (s *Bolt) PropertyKeys() ([]string, error) {
	var keys []string
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bProps).ForEach(func(k, _ []byte) error {
			keys = append(keys, string(k))
			return nil
		})
	})
	return keys, err
}

// SetProperties implements Store.
func (s *Bolt) SetProperties(kv map[string][]byte) error { return s.put(bProps, kv) }

// Clear implements Store.
func (s *Bolt) Clear() error {
	return s.db.Update(func(tx *bolt.Tx) error {
		for _, b := range buckets {
			if err := tx.DeleteBucket(b); err != nil {
				return err
			}
			if _, err := tx.CreateBucket(b); err != nil {
				return err
			}
		}
		return nil
	})
}

// Close implements Store.
func (s *Bolt) Close() error { return s.db.Close() }

// Remove implements Remover: it closes the store and deletes its file.
func (s *Bolt) Remove() error {
	if err := s.db.Close(); err != nil {
		return err
	}
	return os.Remove(s.path)
}

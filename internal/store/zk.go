package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
)

// ZooKeeper layout under the service's root (by default the SDK's
// /dcos-service-<name>):
//
//	servicename                  the service name
//	SchemaVersion                "1"
//	FrameworkID                  the framework ID
//	ConfigTarget                 the target configuration's ID
//	Configurations/<id>          a configuration
//	Tasks/<task>/TaskInfo        TaskInfo (protobuf)
//	Tasks/<task>/TaskStatus      latest TaskStatus (protobuf)
//	Plans/<plan>                 plan progress (JSON)
//	Properties/<key>             free-form values
//	lock/<member>                leader election (ephemeral, sequential)
//
// Keys are path-escaped. Every multi-node write is one ZooKeeper multi
// transaction (all or nothing); once this instance leads, every write also
// checks that its election node still exists, so a deposed leader whose
// session expired cannot write.
const (
	zkFrameworkID = "FrameworkID"
	zkTarget      = "ConfigTarget"
	zkConfigs     = "Configurations"
	zkTasks       = "Tasks"
	zkPlans       = "Plans"
	zkProps       = "Properties"
	zkLock        = "lock"
	zkInfo        = "TaskInfo"
	zkStatus      = "TaskStatus"
)

// ErrLeadershipLost is returned by writes after this instance's election
// node is gone (its session expired): another instance may lead now.
var ErrLeadershipLost = errors.New("ZooKeeper leadership lost")

// ZK is the ZooKeeper store. It also elects a leader among the scheduler
// instances sharing its root (see Lead).
type ZK struct {
	conn    *zk.Conn
	root    string
	log     *slog.Logger
	acl     []zk.ACL
	timeout time.Duration

	mu      sync.Mutex
	fence   string        // our election node once we lead
	expired chan struct{} // closed when the session expires
	once    sync.Once
}

// zkLogger sends the client's logs to slog at debug level.
type zkLogger struct{ log *slog.Logger }

func (l zkLogger) Printf(format string, a ...any) { l.log.Debug(fmt.Sprintf(format, a...)) }

// ParseZK splits "zk://host:port[,host:port]/path" into servers and path;
// an empty path (or "/") means /dcos-service-<service> with "/" in the
// service name turned into "__", as the SDK does.
func ParseZK(spec, service string) ([]string, string, error) {
	rest, ok := strings.CutPrefix(spec, "zk://")
	if !ok {
		return nil, "", fmt.Errorf("%q: want zk://host:port[,host:port]/path", spec)
	}
	hosts, p, _ := strings.Cut(rest, "/")
	var servers []string
	for _, h := range strings.Split(hosts, ",") {
		if h = strings.TrimSpace(h); h == "" {
			continue
		}
		if !strings.Contains(h, ":") {
			h += ":2181"
		}
		servers = append(servers, h)
	}
	if len(servers) == 0 {
		return nil, "", fmt.Errorf("%q: no ZooKeeper server", spec)
	}
	p = strings.TrimRight(p, "/")
	if p == "" {
		if service == "" {
			return nil, "", fmt.Errorf("%q: no path and no service name", spec)
		}
		p = "dcos-service-" + strings.ReplaceAll(strings.TrimPrefix(service, "/"), "/", "__")
	}
	p = "/" + p
	if path.Clean(p) != p || strings.Contains(p, "//") {
		return nil, "", fmt.Errorf("%q: bad path %q", spec, p)
	}
	return servers, p, nil
}

// OpenZK connects to the ZooKeeper servers of spec (see ParseZK) and
// creates the service's tree. It waits at most o.ConnectTimeout for a
// session.
func OpenZK(spec string, o Options) (*ZK, error) {
	servers, root, err := ParseZK(spec, o.Service)
	if err != nil {
		return nil, err
	}
	o.defaults()
	s := &ZK{root: root, log: o.Logger, acl: zk.WorldACL(zk.PermAll), timeout: o.ConnectTimeout, expired: make(chan struct{})}
	conn, _, err := zk.Connect(servers, o.SessionTimeout,
		zk.WithLogger(zkLogger{o.Logger}),
		zk.WithEventCallback(func(ev zk.Event) {
			if ev.Type == zk.EventSession && ev.State == zk.StateExpired {
				s.once.Do(func() { close(s.expired) })
			}
		}))
	if err != nil {
		return nil, fmt.Errorf("ZooKeeper %s: %w", strings.Join(servers, ","), err)
	}
	s.conn = conn
	deadline := time.Now().Add(o.ConnectTimeout)
	for conn.State() != zk.StateHasSession {
		if time.Now().After(deadline) {
			conn.Close()
			return nil, fmt.Errorf("ZooKeeper %s: no session within %s", strings.Join(servers, ","), o.ConnectTimeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, p := range []string{"", "/" + zkConfigs, "/" + zkTasks, "/" + zkPlans, "/" + zkProps, "/" + zkLock} {
		if err := s.ensure(root + p); err != nil {
			conn.Close()
			return nil, fmt.Errorf("ZooKeeper %s: creating %s: %w", strings.Join(servers, ","), root+p, err)
		}
	}
	if o.Service != "" {
		if err := s.writeKV("", map[string][]byte{"servicename": []byte(o.Service), "SchemaVersion": []byte("1")}); err != nil {
			conn.Close()
			return nil, fmt.Errorf("ZooKeeper %s: %w", root, err)
		}
	}
	return s, nil
}

// Root is the service's root node.
func (s *ZK) Root() string { return s.root }

// ensure creates p and its parents (persistent, empty) if missing.
func (s *ZK) ensure(p string) error {
	parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
	cur := ""
	for _, part := range parts {
		cur += "/" + part
		_, err := s.conn.Create(cur, nil, 0, s.acl)
		if err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return err
		}
	}
	return nil
}

func esc(k string) string { return url.PathEscape(k) }
func unesc(k string) string {
	if u, err := url.PathUnescape(k); err == nil {
		return u
	}
	return k
}

// get returns a node's data, nil when the node does not exist.
func (s *ZK) get(p string) ([]byte, error) {
	b, _, err := s.conn.Get(p)
	if errors.Is(err, zk.ErrNoNode) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ZooKeeper get %s: %w", p, err)
	}
	if b == nil {
		b = []byte{}
	}
	return b, nil
}

// exists reports whether p exists.
func (s *ZK) exists(p string) (bool, error) {
	ok, _, err := s.conn.Exists(p)
	if err != nil {
		return false, fmt.Errorf("ZooKeeper exists %s: %w", p, err)
	}
	return ok, nil
}

// upsert returns the operation writing data to p: a set if p exists, else a
// create.
func (s *ZK) upsert(p string, data []byte) (any, error) {
	ok, err := s.exists(p)
	if err != nil {
		return nil, err
	}
	if ok {
		return &zk.SetDataRequest{Path: p, Data: data, Version: -1}, nil
	}
	return &zk.CreateRequest{Path: p, Data: data, Acl: s.acl}, nil
}

// multi runs ops as one transaction, with the leadership check when this
// instance leads.
func (s *ZK) multi(ops ...any) error {
	if len(ops) == 0 {
		return nil
	}
	s.mu.Lock()
	fence := s.fence
	s.mu.Unlock()
	if fence != "" {
		ops = append([]any{&zk.CheckVersionRequest{Path: fence, Version: -1}}, ops...)
	}
	res, err := s.conn.Multi(ops...)
	if err == nil {
		return nil
	}
	if fence != "" && len(res) > 0 && errors.Is(res[0].Error, zk.ErrNoNode) {
		return ErrLeadershipLost
	}
	for i, r := range res {
		if r.Error != nil && !errors.Is(r.Error, zk.ErrAPIError) {
			return fmt.Errorf("ZooKeeper write (op %d of %d): %w", i+1, len(res), r.Error)
		}
	}
	return fmt.Errorf("ZooKeeper write: %w", err)
}

// writeKV upserts every key of kv under dir (relative to the root) in one
// transaction.
func (s *ZK) writeKV(dir string, kv map[string][]byte) error {
	var ops []any
	for _, k := range sortedKeys(kv) {
		v := kv[k]
		if len(v) > MaxValue {
			return fmt.Errorf("%s/%s: %w", dir, k, ErrTooLarge)
		}
		op, err := s.upsert(s.path(dir, k), v)
		if err != nil {
			return err
		}
		ops = append(ops, op)
	}
	return s.multi(ops...)
}

func (s *ZK) path(dir, key string) string {
	if dir == "" {
		return s.root + "/" + esc(key)
	}
	return s.root + "/" + dir + "/" + esc(key)
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// FrameworkID implements Store.
func (s *ZK) FrameworkID() (string, error) {
	b, err := s.get(s.path("", zkFrameworkID))
	return string(b), err
}

// SetFrameworkID implements Store.
func (s *ZK) SetFrameworkID(id string) error {
	p := s.path("", zkFrameworkID)
	if id == "" {
		ok, err := s.exists(p)
		if err != nil || !ok {
			return err
		}
		return s.multi(&zk.DeleteRequest{Path: p, Version: -1})
	}
	return s.writeKV("", map[string][]byte{zkFrameworkID: []byte(id)})
}

// Target implements Store.
func (s *ZK) Target() (string, []byte, error) {
	id, err := s.get(s.path("", zkTarget))
	if err != nil || len(id) == 0 {
		return "", nil, err
	}
	cfg, err := s.get(s.path(zkConfigs, string(id)))
	return string(id), cfg, err
}

// SetTarget implements Store.
func (s *ZK) SetTarget(id string, config []byte) error {
	if len(config) > MaxValue {
		return fmt.Errorf("configuration %s: %w", id, ErrTooLarge)
	}
	a, err := s.upsert(s.path(zkConfigs, id), config)
	if err != nil {
		return err
	}
	b, err := s.upsert(s.path("", zkTarget), []byte(id))
	if err != nil {
		return err
	}
	return s.multi(a, b)
}

// Configurations implements Store.
func (s *ZK) Configurations() (map[string][]byte, error) { return s.all(zkConfigs) }

// DeleteConfigurations implements Store.
func (s *ZK) DeleteConfigurations(ids ...string) error {
	var ops []any
	for _, id := range ids {
		p := s.path(zkConfigs, id)
		ok, err := s.exists(p)
		if err != nil {
			return err
		}
		if ok {
			ops = append(ops, &zk.DeleteRequest{Path: p, Version: -1})
		}
	}
	return s.multi(ops...)
}

// taskOps returns the operations writing field (TaskInfo or TaskStatus) of
// task, creating the task's node first when needed.
func (s *ZK) taskOps(task, field string, v []byte) ([]any, error) {
	if len(v) > MaxValue {
		return nil, fmt.Errorf("%s/%s/%s: %w", zkTasks, task, field, ErrTooLarge)
	}
	dir := s.path(zkTasks, task)
	ok, err := s.exists(dir)
	if err != nil {
		return nil, err
	}
	if !ok {
		return []any{
			&zk.CreateRequest{Path: dir, Acl: s.acl},
			&zk.CreateRequest{Path: dir + "/" + field, Data: v, Acl: s.acl},
		}, nil
	}
	op, err := s.upsert(dir+"/"+field, v)
	if err != nil {
		return nil, err
	}
	return []any{op}, nil
}

// PutTasks implements Store.
func (s *ZK) PutTasks(infos map[string][]byte) error { return s.putField(zkInfo, infos) }

// PutStatus implements Store.
func (s *ZK) PutStatus(task string, status []byte) error {
	return s.PutStatuses(map[string][]byte{task: status})
}

// PutStatuses implements Store.
func (s *ZK) PutStatuses(statuses map[string][]byte) error { return s.putField(zkStatus, statuses) }

// putField writes field (TaskInfo or TaskStatus) of several tasks, by
// name, in one multi transaction.
func (s *ZK) putField(field string, kv map[string][]byte) error {
	var ops []any
	for _, name := range sortedKeys(kv) {
		o, err := s.taskOps(name, field, kv[name])
		if err != nil {
			return err
		}
		ops = append(ops, o...)
	}
	return s.multi(ops...)
}

// deleteTreeOps returns the operations deleting p and everything below it,
// children first.
func (s *ZK) deleteTreeOps(p string) ([]any, error) {
	kids, _, err := s.conn.Children(p)
	if errors.Is(err, zk.ErrNoNode) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ZooKeeper children %s: %w", p, err)
	}
	var ops []any
	for _, k := range kids {
		o, err := s.deleteTreeOps(p + "/" + k)
		if err != nil {
			return nil, err
		}
		ops = append(ops, o...)
	}
	return append(ops, &zk.DeleteRequest{Path: p, Version: -1}), nil
}

// DeleteTasks implements Store.
func (s *ZK) DeleteTasks(names ...string) error {
	var ops []any
	for _, n := range names {
		o, err := s.deleteTreeOps(s.path(zkTasks, n))
		if err != nil {
			return err
		}
		ops = append(ops, o...)
	}
	return s.multi(ops...)
}

// Tasks implements Store. Tasks with a status but no TaskInfo are left out,
// as in the bbolt store.
func (s *ZK) Tasks() (map[string]Task, error) {
	dir := s.root + "/" + zkTasks
	kids, _, err := s.conn.Children(dir)
	if err != nil {
		return nil, fmt.Errorf("ZooKeeper children %s: %w", dir, err)
	}
	out := map[string]Task{}
	for _, k := range kids {
		info, err := s.get(dir + "/" + k + "/" + zkInfo)
		if err != nil {
			return nil, err
		}
		if info == nil {
			continue
		}
		st, err := s.get(dir + "/" + k + "/" + zkStatus)
		if err != nil {
			return nil, err
		}
		out[unesc(k)] = Task{Info: info, Status: st}
	}
	return out, nil
}

// PutPlan implements Store.
func (s *ZK) PutPlan(name string, progress []byte) error {
	return s.writeKV(zkPlans, map[string][]byte{name: progress})
}

func (s *ZK) all(dir string) (map[string][]byte, error) {
	p := s.root + "/" + dir
	kids, _, err := s.conn.Children(p)
	if err != nil {
		return nil, fmt.Errorf("ZooKeeper children %s: %w", p, err)
	}
	out := map[string][]byte{}
	for _, k := range kids {
		b, err := s.get(p + "/" + k)
		if err != nil {
			return nil, err
		}
		if b != nil {
			out[unesc(k)] = b
		}
	}
	return out, nil
}

// Plans implements Store.
func (s *ZK) Plans() (map[string][]byte, error) { return s.all(zkPlans) }

// Property implements Store.
func (s *ZK) Property(key string) ([]byte, error) { return s.get(s.path(zkProps, key)) }

// PropertyKeys implements Store.
func (s *ZK) PropertyKeys() ([]string, error) {
	p := s.root + "/" + zkProps
	kids, _, err := s.conn.Children(p)
	if err != nil {
		return nil, fmt.Errorf("ZooKeeper children %s: %w", p, err)
	}
	keys := make([]string, len(kids))
	for i, k := range kids {
		keys[i] = unesc(k)
	}
	sort.Strings(keys)
	return keys, nil
}

// SetProperties implements Store.
func (s *ZK) SetProperties(kv map[string][]byte) error { return s.writeKV(zkProps, kv) }

// Clear implements Store: it deletes everything but the election nodes and
// the empty folders, one transaction per top-level node.
func (s *ZK) Clear() error {
	kids, _, err := s.conn.Children(s.root)
	if err != nil {
		return fmt.Errorf("ZooKeeper children %s: %w", s.root, err)
	}
	for _, k := range kids {
		if k == zkLock {
			continue
		}
		p := s.root + "/" + k
		ops, err := s.deleteTreeOps(p)
		if err != nil {
			return err
		}
		folder := slices.Contains([]string{zkConfigs, zkTasks, zkPlans, zkProps}, k)
		if folder {
			ops = ops[:len(ops)-1] // keep the folder itself
		}
		if err := s.multi(ops...); err != nil {
			return err
		}
	}
	return nil
}

// Remove implements Remover: it deletes the service's whole tree, election
// nodes included, in one transaction, then closes the store.
func (s *ZK) Remove() error {
	defer s.conn.Close()
	ops, err := s.deleteTreeOps(s.root)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.fence = "" // the fence node goes with the tree
	s.mu.Unlock()
	return s.multi(ops...)
}

// Close implements Store: it ends the session, which deletes the election
// node at once (the standby takes over without waiting for a timeout).
func (s *ZK) Close() error {
	s.conn.Close()
	return nil
}

// Lead implements Leader with the ZooKeeper election recipe: an ephemeral
// sequential node under lock/; the instance owning the lowest one leads,
// each other watches the node just below its own. It blocks until this
// instance leads or ctx ends; lost is closed when the leadership is lost
// (the session expired or the node was deleted).
func (s *ZK) Lead(ctx context.Context) (lost <-chan struct{}, err error) {
	dir := s.root + "/" + zkLock
	me, err := s.conn.CreateProtectedEphemeralSequential(dir+"/member-", nil, s.acl)
	if err != nil {
		return nil, fmt.Errorf("ZooKeeper election under %s: %w", dir, err)
	}
	name := path.Base(me)
	s.log.Info("waiting for leadership", "node", me)
	for {
		kids, _, err := s.conn.Children(dir)
		if err != nil {
			return nil, fmt.Errorf("ZooKeeper election under %s: %w", dir, err)
		}
		sort.Slice(kids, func(i, j int) bool { return seq(kids[i]) < seq(kids[j]) })
		i := slices.Index(kids, name)
		if i < 0 {
			return nil, fmt.Errorf("ZooKeeper election under %s: %w", dir, ErrLeadershipLost)
		}
		if i == 0 {
			break
		}
		ok, _, ch, err := s.conn.ExistsW(dir + "/" + kids[i-1])
		if err != nil {
			return nil, fmt.Errorf("ZooKeeper election under %s: %w", dir, err)
		}
		if !ok {
			continue
		}
		select {
		case <-ctx.Done():
			s.conn.Delete(me, -1)
			return nil, ctx.Err()
		case <-s.expired:
			return nil, fmt.Errorf("ZooKeeper election under %s: session expired: %w", dir, ErrLeadershipLost)
		case <-ch:
		}
	}
	s.mu.Lock()
	s.fence = me
	s.mu.Unlock()
	s.log.Info("leading", "node", me)
	out := make(chan struct{})
	go func() { // owned by the store: ends when leadership is lost or the connection closes
		defer close(out)
		for {
			ok, _, ch, err := s.conn.ExistsW(me)
			if err != nil || !ok {
				return
			}
			select {
			case <-s.expired:
				return
			case ev := <-ch:
				if ev.Type == zk.EventNodeDeleted || ev.Err != nil {
					return
				}
			}
		}
	}()
	return out, nil
}

// seq is the sequence number ZooKeeper appended to an election node name.
func seq(name string) string {
	if len(name) < 10 {
		return name
	}
	return name[len(name)-10:]
}

package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"log/syslog"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"os/user"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"sip-router.org/core/flavor"
	"sip-router.org/core/module"
	"sip-router.org/core/rpc"
	"sip-router.org/core/sr"
	"sip-router.org/core/srlog"
	"sip-router.org/core/stats"
	"sip-router.org/core/transport"
)

// exitBadConfig is the status of a configuration with errors, as
// Kamailio's exit(-1).
const exitBadConfig = 255

// detachedEnv marks the re-executed, detached copy of the server.
const detachedEnv = "SIPROUTER_DETACHED"

func run(f *flavor.Flavor, opts *Options, stdout, stderr io.Writer) int {
	cfgPath := opts.ConfigFile
	if cfgPath == "" {
		cfgPath = f.ConfigPath()
	}
	if opts.WorkDir != "" {
		if err := os.Chdir(opts.WorkDir); err != nil {
			fmt.Fprintf(stderr, "%s: -w %s: %v\n", f.Binary, opts.WorkDir, err)
			return 1
		}
	}
	if err := module.CheckDeps(); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", f.Binary, err)
		return 1
	}
	// Until the config says where logs go, they go to stderr.
	level := new(slog.LevelVar)
	level.Set(srlog.Level(2 + opts.Debug))
	logOut := stderr
	log := slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: level}))

	holder := &socketHolder{}
	loaded, err := Load(f, LoadOptions{
		Path: cfgPath, Defines: opts.DefineMap(), Listen: opts.Listen, Log: log,
		Sockets: holder.find,
	})
	if err != nil {
		var le *LoadError
		if errors.As(err, &le) {
			for _, e := range le.Errs {
				fmt.Fprintln(stderr, e.Error())
			}
			fmt.Fprintf(stderr, "ERROR: bad config file (%d errors)\n", len(le.Errs))
		} else {
			fmt.Fprintf(stderr, "ERROR: %v\n", err)
		}
		return exitBadConfig
	}
	for _, w := range loaded.Warnings {
		fmt.Fprintf(stderr, "%s: warning: %s\n", w.Pos, w.Msg)
	}
	if opts.CheckOnly {
		fmt.Fprintln(stderr, "config file ok, exiting...")
		return 0
	}
	p := &loaded.Params
	if opts.Children > 0 {
		p.Children = opts.Children
	}
	if opts.DisableTCP {
		p.DisableTCP = true
	}
	level.Set(srlog.Level(p.Debug + opts.Debug))

	if opts.Foreground == 0 && p.Fork && os.Getenv(detachedEnv) == "" {
		return detach(f, stderr)
	}
	if !opts.LogStderr && !p.LogStderr {
		if w, err := syslog.New(syslogFacility(p.LogFacility)|syslog.LOG_INFO, logName(f, p)); err == nil {
			log = slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
		}
	}
	return serve(f, loaded, opts, log, holder)
}

// socketHolder lets $fs assignments, compiled before the sockets exist,
// find them once the server runs.
type socketHolder struct {
	tp atomic.Pointer[transport.Manager]
}

func (h *socketHolder) find(proto, host string, port int) (*sr.Socket, bool) {
	tp := h.tp.Load()
	if tp == nil {
		return nil, false
	}
	return findSocket(tp.Sockets(), proto, host, port)
}

// serve starts the modules and transports, and runs until SIGTERM/SIGINT.
func serve(f *flavor.Flavor, loaded *Loaded, opts *Options, log *slog.Logger, holder *socketHolder) int {
	p := &loaded.Params
	stopProfiles, err := startProfiles()
	if err != nil {
		log.Error("cannot start", "error", err)
		return 1
	}
	defer func() {
		if err := stopProfiles(); err != nil {
			log.Error("cannot write profile", "error", err)
		}
	}()
	srv, err := NewServer(f, loaded, log)
	if err != nil {
		log.Error("cannot start", "error", err)
		return 1
	}
	holder.tp.Store(srv.tp)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	startGCTuner(ctx)
	if err := srv.Start(ctx); err != nil {
		log.Error("cannot start", "error", err)
		srv.Stop()
		return 1
	}
	if err := dropPrivileges(firstNonEmpty(opts.User, p.User), firstNonEmpty(opts.Group, p.Group)); err != nil {
		log.Error("cannot drop privileges", "error", err)
		srv.Stop()
		return 1
	}
	if opts.PidFile != "" {
		if err := os.WriteFile(opts.PidFile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
			log.Error("cannot write pid file", "file", opts.PidFile, "error", err)
		}
		defer os.Remove(opts.PidFile)
	}
	var socks []string
	for _, s := range srv.Sockets() {
		socks = append(socks, s.String())
	}
	log.Info("started", "flavor", f.Name, "version", f.Version, "listen", strings.Join(socks, " "))

	sig := make(chan os.Signal, 2)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer signal.Stop(sig)
	for s := range sig {
		if s == syscall.SIGHUP {
			log.Info("SIGHUP ignored: restart the server to reload its configuration")
			continue
		}
		log.Info("shutting down", "signal", s.String())
		break
	}
	cancel()
	srv.Stop()
	log.Info("stopped")
	return 0
}

// NewServer prepares a server for a loaded configuration.
func NewServer(f *flavor.Flavor, loaded *Loaded, log *slog.Logger) (*Server, error) {
	p := &loaded.Params
	s := &Server{loaded: loaded, log: log, script: loaded.Script, uaHeader: p.UserAgent,
		rpc: rpc.NewRegistry(), stats: stats.New(), started: time.Now(), flavor: f}
	if p.ServerSig {
		s.serverHeader = p.ServerHeader
	}
	for _, i := range loaded.Modules.Instances() {
		if h, ok := i.Value.(module.ReplyHandler); ok {
			s.replyHandlers = append(s.replyHandlers, h)
		}
		if f, ok := i.Value.(module.RequestFilter); ok {
			s.requestFilters = append(s.requestFilters, f)
		}
	}
	tc := transport.Config{
		Children: p.Children,
		// One reader per UDP socket keeps the arrival order of datagrams
		// (a 200 overtaking its 180 breaks UAs); workers give parallelism.
		UDPReaders:         1,
		MaxConnections:     p.TCPMaxConns,
		ConnectionLifetime: time.Duration(p.TCPLifetime) * time.Second,
		ConnectTimeout:     time.Duration(p.TCPConnTimeout) * time.Second,
		MaxStreamSize:      p.MaxMsgSize,
		Handler:            s.handle,
		Logger:             log.With("part", "transport"),
	}
	tc.Listen = append(tc.Listen, listenSpecs(p)...)
	for _, a := range p.Aliases {
		al, err := transport.ParseAlias(a)
		if err != nil {
			return nil, fmt.Errorf("alias=%s: %w", a, err)
		}
		tc.Aliases = append(tc.Aliases, al)
	}
	tp, err := transport.New(tc)
	if err != nil {
		return nil, err
	}
	s.tp = tp
	s.registerCoreStats()
	if err := s.registerCoreRPCs(f); err != nil {
		return nil, err
	}
	return s, nil
}

// listenSpecs turns listen= lines into transport specs: a line without a
// transport listens on udp and tcp; without any listen= the server listens
// on every address (port=, default 5060), as Kamailio does.
func listenSpecs(p *Params) []transport.ListenSpec {
	specs := p.Listen
	if len(specs) == 0 {
		specs = []ListenSpec{{Host: "*"}}
	}
	var out []transport.ListenSpec
	for _, l := range specs {
		port := l.Port
		if !l.PortSet {
			port = p.Port
		}
		protos := []string{l.Proto}
		if l.Proto == "" {
			protos = []string{"udp"}
			if !p.DisableTCP {
				protos = append(protos, "tcp")
			}
		}
		for _, proto := range protos {
			if (proto == "tcp" || proto == "ws") && p.DisableTCP {
				continue
			}
			adv := l.Advertise
			if adv == "" && p.AdvertisedAddr != "" {
				adv = p.AdvertisedAddr
				if p.AdvertisedPort > 0 {
					adv += ":" + strconv.Itoa(p.AdvertisedPort)
				}
			}
			out = append(out, transport.ListenSpec{Proto: proto, Host: l.Host, Port: port, Advertise: adv})
		}
	}
	return out
}

// Start initialises the modules (dependency order) and opens the sockets.
func (s *Server) Start(ctx context.Context) error {
	err := s.loaded.Modules.Init(module.InitEnv{Ctx: ctx, Log: s.log, RPC: s.rpc, Stats: s.stats, Flavor: s.flavor, Core: s, Services: s})
	if err != nil {
		return err
	}
	if err := s.tp.Start(); err != nil {
		return err
	}
	return s.loaded.Modules.ChildInit(1)
}

// Stop closes the sockets and destroys the modules (flushing what they
// keep), in reverse dependency order.
func (s *Server) Stop() {
	if s.tp != nil {
		if err := s.tp.Close(); err != nil {
			s.log.Debug("closing transports", "error", err)
		}
	}
	s.loaded.Modules.Destroy()
}

// RPC returns the server's command registry.
func (s *Server) RPC() *rpc.Registry { return s.rpc }

// Stats returns the server's statistics registry.
func (s *Server) Stats() *stats.Registry { return s.stats }

// Flavor returns the flavor the server runs as.
func (s *Server) Flavor() *flavor.Flavor { return s.flavor }

func findSocket(socks []*sr.Socket, proto, host string, port int) (*sr.Socket, bool) {
	ip, ipErr := netip.ParseAddr(strings.Trim(host, "[]"))
	for _, s := range socks {
		if proto != "" && s.Proto != proto {
			continue
		}
		if port != 0 && int(s.Addr.Port()) != port {
			continue
		}
		if ipErr == nil && s.Addr.Addr().Unmap() == ip.Unmap() || ipErr != nil && s.Name == host {
			return s, true
		}
	}
	return nil, false
}

// detach re-runs the server in the background in a new session and
// returns: Go cannot fork, so this is how the server daemonizes without -D.
func detach(f *flavor.Flavor, stderr io.Writer) int {
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintf(stderr, "%s: cannot daemonize: %v (use -D)\n", f.Binary, err)
		return 1
	}
	cmd := exec.Command(exe, os.Args[1:]...)
	cmd.Env = append(os.Environ(), detachedEnv+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		fmt.Fprintf(stderr, "%s: cannot daemonize: %v (use -D)\n", f.Binary, err)
		return 1
	}
	defer devnull.Close()
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, devnull, devnull
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(stderr, "%s: cannot daemonize: %v (use -D)\n", f.Binary, err)
		return 1
	}
	return 0
}

func dropPrivileges(userName, groupName string) error {
	if userName == "" && groupName == "" {
		return nil
	}
	if os.Geteuid() != 0 {
		return nil
	}
	if groupName != "" {
		gid, err := lookupID(groupName, func(n string) (string, error) {
			g, err := user.LookupGroup(n)
			if err != nil {
				return "", err
			}
			return g.Gid, nil
		})
		if err != nil {
			return fmt.Errorf("group %s: %w", groupName, err)
		}
		if err := syscall.Setgid(gid); err != nil {
			return fmt.Errorf("setgid %d: %w", gid, err)
		}
	}
	if userName != "" {
		uid, err := lookupID(userName, func(n string) (string, error) {
			u, err := user.Lookup(n)
			if err != nil {
				return "", err
			}
			return u.Uid, nil
		})
		if err != nil {
			return fmt.Errorf("user %s: %w", userName, err)
		}
		if err := syscall.Setuid(uid); err != nil {
			return fmt.Errorf("setuid %d: %w", uid, err)
		}
	}
	return nil
}

func lookupID(name string, lookup func(string) (string, error)) (int, error) {
	if n, err := strconv.Atoi(name); err == nil {
		return n, nil
	}
	s, err := lookup(name)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(s)
}

func firstNonEmpty(a ...string) string {
	for _, s := range a {
		if s != "" {
			return s
		}
	}
	return ""
}

func logName(f *flavor.Flavor, p *Params) string {
	if p.LogName != "" {
		return p.LogName
	}
	return f.Binary
}

func syslogFacility(name string) syslog.Priority {
	switch strings.ToUpper(name) {
	case "LOG_LOCAL0":
		return syslog.LOG_LOCAL0
	case "LOG_LOCAL1":
		return syslog.LOG_LOCAL1
	case "LOG_LOCAL2":
		return syslog.LOG_LOCAL2
	case "LOG_LOCAL3":
		return syslog.LOG_LOCAL3
	case "LOG_LOCAL4":
		return syslog.LOG_LOCAL4
	case "LOG_LOCAL5":
		return syslog.LOG_LOCAL5
	case "LOG_LOCAL6":
		return syslog.LOG_LOCAL6
	case "LOG_LOCAL7":
		return syslog.LOG_LOCAL7
	case "LOG_USER":
		return syslog.LOG_USER
	}
	return syslog.LOG_DAEMON
}

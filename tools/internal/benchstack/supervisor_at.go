package benchstack

import (
	"context"
	"time"

	"cyberimage/shared/natsauth"
)

// StartSupervisorAt starts a supervisor as id with its HTTP server at addr
// (a bench that reads its API needs the address), its log in
// supervisor-<id>.log so replicas keep separate logs, and waits until its
// /healthz answers.
func (s *Services) StartSupervisorAt(ctx context.Context, id, addr string, extra ...string) (*Proc, error) {
	env, err := s.env(natsauth.Supervisor, natsauth.DefaultName(natsauth.Supervisor),
		append([]string{"CYBERIMAGE_SUPERVISOR_ADDR=" + addr, "CYBERIMAGE_SUPERVISOR_ID=" + id}, extra...))
	if err != nil {
		return nil, err
	}
	p, err := s.Procs.Start("supervisor-"+id, s.Bins["supervisor"], nil, env)
	if err != nil {
		return nil, err
	}
	return p, WaitHTTP(ctx, p, "http://"+addr+"/healthz", 60*time.Second)
}

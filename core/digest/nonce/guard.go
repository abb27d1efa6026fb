package nonce

import (
	"encoding/hex"
	"log/slog"

	"sip-router.org/core/digest"
	"sip-router.org/core/sr"
)

// Guard is the state both auth modules check credentials with: the
// nonces they issue and check, and the password of users that do not
// exist. It is safe for concurrent use.
type Guard struct {
	Nonces *Nonces
	dummy  string
}

// NewGuard sets up the nonces of cfg, with a random dummy password. A
// secret shorter than 16 bytes gets a warning on log (when not nil).
func NewGuard(log *slog.Logger, cfg Config) *Guard {
	if len(cfg.Secret) > 0 && len(cfg.Secret) < 16 && log != nil {
		log.Warn("auth: the secret is shorter than 16 characters; nonces are only as strong as it is")
	}
	return &Guard{Nonces: New(cfg), dummy: hex.EncodeToString(RandomBytes(16))}
}

// CheckNonce validates the nonce of cr for the request of c, with the
// credentials' qop and nonce count; commit records the use in the table
// of nonces (see Nonces.Check).
func (g *Guard) CheckNonce(c *sr.Ctx, cr *digest.Creds, commit bool) Result {
	return g.Nonces.Check(c, cr.Nonce, cr.QOP != "", cr.NCValue, commit)
}

// Commit is what follows a right response: it records the use of the
// nonce of cr, and when the table accepts it (OK) marks cr as the
// credentials the request was authorized with (digest.Authorize).
func (g *Guard) Commit(c *sr.Ctx, cr *digest.Creds) Result {
	r := g.CheckNonce(c, cr, true)
	if r == OK {
		digest.Authorize(c, cr)
	}
	return r
}

// DummyHA1 is the HA1 of a user that does not exist: computed from a
// random password the way a real one is, so that the work done for an
// unknown user and for a wrong password is the same.
func (g *Guard) DummyHA1(username, realm string) string {
	return digest.HA1(username, realm, g.dummy)
}

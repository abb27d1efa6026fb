// Package templates holds the static inputs of the packages: the systemd
// unit, the default file, the tools' rc file, the tmpfiles.d entry, the
// copyright file, the changelog notes, the lintian overrides, the
// maintainer scripts of both formats and the text of the man pages. They
// are Go text/templates filled in per flavor by packaging/internal/pkg.
package templates

import "embed"

// FS holds the templates.
//
//go:embed *.tmpl *.md deb rpm
var FS embed.FS

// Package sr holds the runtime types shared by the core and every module:
// script values, route types and the per-message context. It imports no
// other package of this project, so modules in all three trees can use it
// without pulling in the script engine or the transports.
package sr

// Package cdp is Switchyard's vocabulary: events, profiles, sessions and
// sources, the store and event-log ports every backend implements, and the
// application error type. It imports only the standard library so that every
// other package can depend on it and it depends on none of them.
package cdp

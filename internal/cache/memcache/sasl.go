package memcache

// authenticate logs a new connection in with SASL PLAIN (RFC 4616), the
// mechanism MemCachier and memcached -S accept: one round trip carrying
// "\x00user\x00password". Over the network the password is as exposed as
// the data; use DialContext with TLS where that matters.
func authenticate(c *conn, user, password string) error {
	msg := make([]byte, 0, 2+len(user)+len(password))
	msg = append(append(append(append(msg, 0), user...), 0), password...)
	res, err := c.roundTrip(&request{op: opSASLAuth, key: "PLAIN", value: msg})
	if err != nil {
		return err
	}
	switch res.status {
	case statusOK:
		return nil
	case statusAuthError:
		return &authError{user: user}
	case statusUnknownCommand, statusNotSupported:
		return &authError{user: user, reason: "the server does not support SASL"}
	default:
		return res.status
	}
}

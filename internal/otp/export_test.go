package otp

// Hash is the keyed hash of a code, for benchmarks that store codes
// without mailing them.
func (s *Service) Hash(realmID, addr, code string) string { return s.hash(realmID, addr, code) }

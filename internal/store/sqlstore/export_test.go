package sqlstore

// Statements that tests outside the package explain.
var (
	UseSession   = useSession
	RenewSession = renewSession
)

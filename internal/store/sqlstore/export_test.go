package sqlstore

// Statements that tests outside the package explain.
var (
	GetSession               = getSession
	UseSession               = useSession
	RecordSessionApplication = recordSessionApplication
	RenewSession             = renewSession
)

package main

import (
	"io"
	"os"
)

// commands is the table of every subcommand of sxp.
func commands(stdout, stderr io.Writer) []*command {
	return []*command{
		migrateCommand(stdout),
		clearingCommand(stdout), adminCommand(stdout), cxpCommand(stdout),
		demoCommand(stdout), healthcheckCommand(stdout),
		communityCommand(stdout), membersCommand(stdout),
		categoriesCommand(stdout), peersCommand(stdout), keysCommand(stdout),
		dealsCommand(os.Stdin, stdout, stderr),
		contractCommand(os.Stdin, stdout),
	}
}

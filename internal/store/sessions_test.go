package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/internal/demo"
	"github.com/ballotflow/ballotflow/internal/store"
	"github.com/ballotflow/ballotflow/internal/testdb"
)

func TestCreatePortalSessionRefusesAVoterWhoMayNotSignIn(t *testing.T) {
	t.Parallel()
	bg := context.Background()
	st := testdb.Open(t)
	require.NoError(t, demo.Seed(bg, st, time.Now()))
	riley, err := st.VoterGetByID(bg, "CO", "600100005") // confidential
	require.NoError(t, err)
	_, err = st.PortalSessionCreate(bg, riley.Ref, "token", time.Hour)
	require.ErrorIs(t, err, store.ErrNotFound)
}

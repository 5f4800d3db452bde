package notices

import (
	"reflect"
	"testing"

	"github.com/stretchr/testify/require"
)

// The placeholders the schema allows are exactly the fields renderers fill.
func TestThePlaceholdersAreTheFieldsRenderersFill(t *testing.T) {
	fields := map[string]bool{}
	typ := reflect.TypeFor[templateData]()
	for i := range typ.NumField() {
		fields[typ.Field(i).Name] = true
	}
	used := map[string]bool{}
	for id, r := range schema {
		for _, lists := range [][]string{r.allowed, r.required, r.oneOf} {
			for _, p := range lists {
				require.True(t, fields[p], "%s names {{.%s}}, which templateData lacks", id, p)
				used[p] = true
			}
		}
	}
	for f := range fields {
		require.True(t, used[f], "templateData.%s is no message's placeholder", f)
	}
}

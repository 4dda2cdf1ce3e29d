package hooktest_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/smsrouter/smsrouter/sdk"
	"github.com/smsrouter/smsrouter/sdk/hooktest"
)

// statusHook is a provider's hook handler: it reports the delivery the
// upstream posted, then answers.
func statusHook(_ context.Context, req *sdk.HookRequest, w sdk.HookResponseWriter) error {
	if req.Path != "/status" {
		w.WriteHeader(http.StatusNotFound)
		return nil
	}
	ev := sdk.Event{ID: "pm-1/delivered", Status: &sdk.StatusEvent{ProviderMessageID: "pm-1", Status: sdk.StatusDelivered}}
	if err := w.Emit(ev); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func Example() {
	req := hooktest.NewRequest(http.MethodPost, "https://gw.example.com/api/v1/providers/p1/hooks/status", []byte("id=pm-1"))
	rec := hooktest.NewRecorder()
	if err := statusHook(context.Background(), req, rec); err != nil {
		fmt.Println("hook failed:", err)
	}
	fmt.Println(req.Path, rec.Code, len(rec.Events), rec.Events[0].Status.Status, rec.Err)

	// A handler that answers first and emits afterwards is caught.
	late := hooktest.NewRecorder()
	late.WriteHeader(http.StatusOK)
	err := late.Emit(rec.Events[0])
	fmt.Println(errors.Is(err, sdk.ErrResponseStarted), late.Err != nil, len(late.Events))
	// Output:
	// /status 204 1 delivered <nil>
	// true true 0
}

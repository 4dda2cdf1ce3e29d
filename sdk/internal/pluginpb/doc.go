// Package pluginpb is the generated gRPC wire protocol between the smsrouter
// host and provider plugins; edit provider.proto and run go generate, never
// the .pb.go files.
package pluginpb

// Tools come from PATH; install them with
// go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12 google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2
//go:generate protoc --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative provider.proto

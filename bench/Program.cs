using CartActor.Bench.Configs;
using CartActor.Bench.Gate;

// `dotnet run -c Release --project bench [-- BenchmarkDotNet args]` runs the suites (all of them unless a
// selection is given); `-- --gate` (or `-- gate`) runs the CI gate against bench/gates.json.
return args is ["--gate", ..] or ["gate", ..]
    ? GateRunner.Run(args[1..])
    : BenchRunner.Run(args);

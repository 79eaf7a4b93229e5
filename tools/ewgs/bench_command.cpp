// `ewgs bench`: the benchmark subcommands (step, quantizer, hessian, infer, ddp); results go
// into BENCHMARKS.md with machine, date and command.
#include "commands.h"

namespace ewgs::cli {

void add_bench_step_command(CLI::App& bench);
void add_bench_quantizer_command(CLI::App& bench);
void add_bench_hessian_command(CLI::App& bench);
void add_bench_infer_command(CLI::App& bench);
void add_bench_ddp_command(CLI::App& bench);

void add_bench_command(CLI::App& app) {
  auto* bench =
      app.add_subcommand("bench", "Benchmarks; each prints its numbers (--json for one object)");
  bench->require_subcommand(1);
  add_bench_step_command(*bench);
  add_bench_quantizer_command(*bench);
  add_bench_hessian_command(*bench);
  add_bench_infer_command(*bench);
  add_bench_ddp_command(*bench);
}

}  // namespace ewgs::cli

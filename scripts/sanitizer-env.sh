# Sourced by the sanitizer and fuzz scripts: every report, leaks included, stops the
# process with a stack trace.
export ASAN_OPTIONS="abort_on_error=1:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"

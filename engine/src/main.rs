/// mimalloc, not the system allocator: CPU per GET + check 2% lower at 50
/// VUs, 5% at 1,000 and 10,000 (a request's allocations stay on a few hot
/// pages), a JavaScript VU's 4%; a JavaScript VU's memory 3% higher
/// (README, "Scaling").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::Parser;

fn main() {
    let cli = volley::cli::Cli::parse();
    std::process::exit(volley::app::execute(cli));
}

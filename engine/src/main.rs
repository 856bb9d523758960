use clap::Parser;

fn main() {
    let cli = volley::cli::Cli::parse();
    std::process::exit(volley::app::execute(cli));
}

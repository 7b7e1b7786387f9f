//! `quantize-model INPUT OUTPUT --type TYPE`: see README.md.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{anyhow, Result};
use clap::{Parser, Subcommand};
use quantize::formats::BlockFormat;
use quantize_model::{bench, convert, report, testmodel};

/// Quantize a safetensors or GGUF model to a 4-bit GGUF file (libquantize, ggml's bytes).
///
/// F32, F16 and BF16 tensors of at least 2 dimensions whose rows are whole blocks of TYPE are
/// quantized, unless a --keep regex matches their name; every other tensor is copied.
#[derive(Parser)]
#[command(
    name = "quantize-model",
    version,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
struct Cli {
    #[command(subcommand)]
    cmd: Option<Cmd>,
    /// A .safetensors file, a sharded model's *.safetensors.index.json, or a .gguf file
    #[arg(required = true)]
    input: Option<PathBuf>,
    /// The GGUF file to write (replaced only once complete)
    #[arg(required = true)]
    output: Option<PathBuf>,
    /// Block format (every format the library has)
    #[arg(long = "type", value_name = "TYPE", required = true, ignore_case = true, value_parser = format_parser())]
    ty: Option<BlockFormat>,
    /// Worker threads [default: all cores]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    threads: Option<u16>,
    /// Copy tensors whose name matches REGEX unchanged (repeatable)
    #[arg(long, value_name = "REGEX")]
    keep: Vec<String>,
    /// Also write the per-tensor table to FILE: CSV, or JSON when FILE ends in .json
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// Print nothing on success
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Subcommand)]
enum Cmd {
    /// Write a small test model (model.safetensors, config.json) into DIR
    #[command(hide = true)]
    MakeTestModel { dir: PathBuf },
    /// Measure the tool against a plain read and the library's single call on a model of
    /// TENSORS 32 MiB BF16 tensors written to DIR (removed afterwards); see src/bench.rs
    #[command(hide = true)]
    Bench {
        dir: PathBuf,
        #[arg(long = "type", default_value = "q4_0", ignore_case = true, value_parser = format_parser())]
        ty: BlockFormat,
        #[arg(long, default_value_t = 16)]
        tensors: usize,
        /// Up to this many threads [default: all cores]
        #[arg(long)]
        threads: Option<usize>,
    },
}

/// TYPE: the ggml names of the library's formats, listed in --help, so a format added to the
/// library shows up here by itself.
fn format_parser() -> impl clap::builder::TypedValueParser<Value = BlockFormat> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(BlockFormat::ALL.map(|f| f.name())).map(|s| {
        BlockFormat::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .unwrap_or(BlockFormat::ALL[0])
    })
}

/// Errors are one line: messages with line breaks (clap's, regex's) are folded.
fn one_line(s: &str) -> String {
    s.split('\n')
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn run(cli: Cli) -> Result<()> {
    match cli.cmd {
        Some(Cmd::MakeTestModel { dir }) => return testmodel::make(&dir),
        Some(Cmd::Bench {
            dir,
            ty,
            tensors,
            threads,
        }) => {
            let all = std::thread::available_parallelism().map_or(1, |n| n.get());
            return bench::run(&dir, ty, tensors, threads.unwrap_or(all).max(1));
        }
        None => {}
    }
    let (Some(input), Some(output), Some(format)) = (cli.input, cli.output, cli.ty) else {
        return Err(anyhow!("INPUT, OUTPUT and --type are required"));
    };
    let keep = cli
        .keep
        .iter()
        .map(|k| regex::Regex::new(k).map_err(|e| anyhow!("--keep '{k}': invalid regex: {e}")))
        .collect::<Result<Vec<_>>>()?;
    let threads = match cli.threads {
        Some(n) => usize::from(n),
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let opts = convert::Options {
        input,
        output,
        format,
        threads,
        keep,
        progress: !cli.quiet && std::io::stderr().is_terminal(),
        stats: !cli.quiet || cli.report.is_some(),
        report: cli.report,
    };
    let summary = convert::run(&opts)?;
    if !cli.quiet {
        print!("{}", report::table(&summary));
    }
    Ok(())
}

fn main() -> ExitCode {
    // A panic is a bug; still one line, and unwinding removes the temporary output.
    std::panic::set_hook(Box::new(|info| {
        eprintln!(
            "quantize-model: internal error (a bug): {}",
            one_line(&info.to_string())
        );
    }));
    // Ctrl-C or a kill: the destructors do not run, so the handler removes the temporary files.
    let _ = ctrlc::set_handler(|| {
        convert::remove_temp_files();
        eprintln!("quantize-model: interrupted; no output written");
        std::process::exit(130);
    });
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) if !e.use_stderr() => {
            // --help, --version
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            let text = e.to_string();
            let msg: Vec<&str> = text
                .lines()
                .take_while(|l| !l.starts_with("Usage:"))
                .filter(|l| !l.starts_with("For more information"))
                .collect();
            eprintln!(
                "quantize-model: {} (see --help)",
                one_line(&msg.join("\n")).trim_start_matches("error: ")
            );
            return ExitCode::from(2);
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("quantize-model: error: {}", one_line(&format!("{e:#}")));
            ExitCode::FAILURE
        }
    }
}

//! Writes a large benchmark capture:
//! `make-bench-capture keepalive|short MEGABYTES FILE [one-pair|many-pairs] [array|envelope|nested]`
//! (default many-pairs, array: answers are bare arrays of records, arrays in an envelope, or
//! arrays of records holding an array of scalars and a nested object).

use std::fs::File;
use std::io::BufWriter;

use apisonar_testkit::pcap::{PcapWriter, LINKTYPE_ETHERNET};
use apisonar_testkit::workload::{generate_answering, Addresses, Answers, Pattern};

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(kind), Some(mb), Some(path)) = (args.get(1), args.get(2), args.get(3)) else {
        eprintln!(
            "usage: make-bench-capture keepalive|short MEGABYTES FILE [one-pair|many-pairs] [array|envelope|nested]"
        );
        std::process::exit(2);
    };
    let pattern = match kind.as_str() {
        "keepalive" => Pattern::KeepAlive,
        "short" => Pattern::ShortConnections,
        _ => {
            eprintln!("unknown workload {kind}");
            std::process::exit(2);
        }
    };
    let mix = args.get(4).map_or("many-pairs", String::as_str);
    let Some(addresses) = Addresses::parse(mix) else {
        eprintln!("unknown address mix {mix} (one-pair or many-pairs)");
        std::process::exit(2);
    };
    let shape = args.get(5).map_or("array", String::as_str);
    let Some(answers) = Answers::parse(shape) else {
        eprintln!("unknown answers {shape} (array, envelope or nested)");
        std::process::exit(2);
    };
    let megabytes: u64 = mb.parse().unwrap_or(500);
    let mut w = PcapWriter::new(BufWriter::with_capacity(1 << 20, File::create(path)?), LINKTYPE_ETHERNET, 65535)?;
    let mut error = None;
    let (frames, txns) = generate_answering(pattern, addresses, answers, megabytes * 1_000_000, |ts, frame| {
        if error.is_none() {
            if let Err(e) = w.write(ts, frame) {
                error = Some(e);
            }
        }
    });
    if let Some(e) = error {
        return Err(e);
    }
    println!("{path}: {frames} frames, {txns} transactions");
    Ok(())
}

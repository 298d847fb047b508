//! Writes the synthetic captures into a folder: `make-captures [DIR]` (default captures/synthetic).

use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;

use apisonar_testkit::pcap::PcapWriter;
use apisonar_testkit::synthetic;

fn main() -> std::io::Result<()> {
    let dir = std::env::args().nth(1).map(PathBuf::from).unwrap_or_else(|| PathBuf::from("captures/synthetic"));
    std::fs::create_dir_all(&dir)?;
    for s in synthetic::everything() {
        let path = dir.join(format!("{}.pcap", s.name));
        let mut w = PcapWriter::new(BufWriter::new(File::create(&path)?), s.linktype, s.snaplen)?;
        for f in &s.frames {
            w.write(f.ts, &f.bytes)?;
        }
        println!("{}\t{} frames\t{}", path.display(), s.frames.len(), s.what);
    }
    Ok(())
}

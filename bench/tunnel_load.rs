//! Load tool for bench/tunnel.sh: upstream servers and clients, std only (`rustc -O`), so the
//! same client drives Yurt's tunnel (through HTTP CONNECT) and rathole (a forwarded port).
//!
//!   tunnel_load free-port
//!   tunnel_load serve-http ADDR        keep-alive HTTP/1.1, every request → 200 "ok\n"
//!   tunnel_load serve-source ADDR      reads a u64 n, sends n bytes, closes
//!   tunnel_load bulk ADDR MIB [CONNECT-TARGET]
//!   tunnel_load http ADDR CONNS SECS [CONNECT-TARGET]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize| args.get(i).cloned().unwrap_or_default();
    match arg(1).as_str() {
        "free-port" => {
            let l = TcpListener::bind("127.0.0.1:0").expect("bind");
            println!("{}", l.local_addr().expect("addr").port());
        }
        "serve-http" => serve(&arg(2), http_conn),
        "serve-source" => serve(&arg(2), source_conn),
        "bulk" => bulk(&arg(2), arg(3).parse().expect("MiB"), args.get(4)),
        "http" => http(&arg(2), arg(3).parse().expect("conns"), arg(4).parse().expect("secs"), args.get(5)),
        _ => {
            eprintln!("usage: see the top of bench/tunnel_load.rs");
            std::process::exit(64);
        }
    }
}

fn serve(addr: &str, f: fn(TcpStream)) {
    let l = TcpListener::bind(addr).expect("bind");
    for s in l.incoming().flatten() {
        let _ = s.set_nodelay(true);
        std::thread::spawn(move || f(s));
    }
}

fn http_conn(s: TcpStream) {
    let mut w = s.try_clone().expect("clone");
    let mut r = BufReader::new(s);
    let mut line = String::new();
    loop {
        // Request line and headers up to the blank line; GETs carry no body.
        let mut got_any = false;
        loop {
            line.clear();
            match r.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            if line == "\r\n" && got_any {
                break;
            }
            got_any = true;
        }
        if w.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nok\n").is_err() {
            return;
        }
    }
}

fn source_conn(mut s: TcpStream) {
    let mut n = [0u8; 8];
    if s.read_exact(&mut n).is_err() {
        return;
    }
    let mut left = u64::from_be_bytes(n);
    let block = vec![0x5au8; 256 * 1024];
    while left > 0 {
        let k = left.min(block.len() as u64) as usize;
        if s.write_all(&block[..k]).is_err() {
            return;
        }
        left -= k as u64;
    }
}

/// A TCP connection to `addr`, through `CONNECT target` when given.
fn dial(addr: &str, target: Option<&String>) -> TcpStream {
    let mut s = TcpStream::connect(addr).expect("connect");
    let _ = s.set_nodelay(true);
    if let Some(t) = target {
        write!(s, "CONNECT {t} HTTP/1.1\r\nHost: {t}\r\n\r\n").expect("write CONNECT");
        let mut head = Vec::new();
        let mut b = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            s.read_exact(&mut b).expect("CONNECT answer");
            head.push(b[0]);
        }
        assert!(head.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&head));
    }
    s
}

fn bulk(addr: &str, mib: u64, target: Option<&String>) {
    let mut s = dial(addr, target);
    let total = mib << 20;
    let start = Instant::now();
    s.write_all(&total.to_be_bytes()).expect("write");
    let mut buf = vec![0u8; 256 * 1024];
    let mut got = 0u64;
    while got < total {
        let n = s.read(&mut buf).expect("read");
        assert!(n > 0, "stream ended after {got} bytes");
        got += n as u64;
    }
    let secs = start.elapsed().as_secs_f64();
    println!("bulk_mib_per_s {:.0}", mib as f64 / secs);
}

fn http(addr: &str, conns: usize, secs: u64, target: Option<&String>) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let workers: Vec<_> = (0..conns)
        .map(|_| {
            let (addr, target) = (addr.to_string(), target.cloned());
            std::thread::spawn(move || worker(&addr, target.as_ref(), deadline))
        })
        .collect();
    let mut lat: Vec<u32> = workers.into_iter().flat_map(|w| w.join().expect("worker")).collect();
    lat.sort_unstable();
    let pct = |p: f64| lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1))).copied().unwrap_or(0);
    println!("http_req_per_s {:.0}", lat.len() as f64 / secs as f64);
    println!("http_p50_us {}", pct(0.50));
    println!("http_p99_us {}", pct(0.99));
}

/// Keep-alive GETs until `deadline`; latency of each in microseconds.
fn worker(addr: &str, target: Option<&String>, deadline: Instant) -> Vec<u32> {
    let s = dial(addr, target);
    let mut w = s.try_clone().expect("clone");
    let mut r = BufReader::new(s);
    let mut lat = Vec::new();
    let mut line = String::new();
    while Instant::now() < deadline {
        let t = Instant::now();
        w.write_all(b"GET /healthz HTTP/1.1\r\nHost: bench\r\n\r\n").expect("write");
        let mut len = 0usize;
        loop {
            line.clear();
            r.read_line(&mut line).expect("read");
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                len = v.trim().parse().expect("length");
            }
            if line == "\r\n" {
                break;
            }
        }
        let mut body = vec![0u8; len];
        r.read_exact(&mut body).expect("body");
        lat.push(t.elapsed().as_micros() as u32);
    }
    lat
}

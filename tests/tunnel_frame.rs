//! The tunnel frame codec from outside: round trips over every prefix, invalid input as typed
//! errors, and a deterministic random-bytes run (the fuzz smoke test) that must never panic.

use yurt::tunnel::frame::*;

fn samples() -> Vec<Frame> {
    vec![
        Frame::Register {
            node: "edge-1".into(),
            ips: vec![
                "10.0.0.5".parse().expect("test input is valid"),
                "fd00::5".parse().expect("test input is valid"),
            ],
        },
        Frame::Register {
            node: "n".into(),
            ips: vec![],
        },
        Frame::Registered,
        Frame::Rejected {
            reason: "certificate names node a, agent claims b".into(),
        },
        Frame::Ping(7),
        Frame::Pong(u64::MAX),
        Frame::Dial {
            host: "10.0.0.5".into(),
            port: 10250,
        },
        Frame::DialOk,
        Frame::DialRefused {
            reason: "10.0.0.9:22 is not allowed".into(),
        },
        Frame::DialFailed {
            kind: DialFailure::Timeout,
            reason: "timed out".into(),
        },
    ]
}

#[test]
fn round_trip_over_every_prefix() {
    for f in samples() {
        let bytes = to_bytes(&f);
        for i in 0..bytes.len() {
            assert_eq!(decode(&bytes[..i]), Ok(None), "prefix {i} of {f:?}");
        }
        let mut more = bytes.clone();
        more.extend_from_slice(b"tail");
        assert_eq!(decode(&more), Ok(Some((f.clone(), bytes.len()))));
    }
}

#[test]
fn invalid_frames_are_errors() {
    assert_eq!(decode(&[2]), Err(FrameError::Version(2)));
    assert_eq!(decode(&[1, 0]), Err(FrameError::Kind(0)));
    assert_eq!(decode(&[1, 4, 0xff, 0xff]), Err(FrameError::TooLong(65535)));
    assert!(matches!(
        decode(&[1, 4, 0, 1, 0]),
        Err(FrameError::Payload(_))
    ));
    assert!(matches!(
        decode(&[1, 2, 0, 1, 0]),
        Err(FrameError::Payload(_))
    ));
    let bad_name = to_bytes(&Frame::Register {
        node: "Bad Name".into(),
        ips: vec![],
    });
    assert!(matches!(decode(&bad_name), Err(FrameError::Payload(_))));
    let port0 = to_bytes(&Frame::Dial {
        host: "a".into(),
        port: 0,
    });
    assert!(matches!(decode(&port0), Err(FrameError::Payload(_))));
}

#[test]
fn random_bytes_never_panic() {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for round in 0..20_000 {
        let len = round % 64;
        let mut buf = Vec::with_capacity(len);
        for _ in 0..len {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            buf.push(x as u8);
        }
        if round % 2 == 0 && len > 2 {
            buf[0] = VERSION;
            buf[1] = (buf[1] % 10).max(1);
            buf[2] = 0;
        }
        if let Ok(Some((f, used))) = decode(&buf) {
            assert!(used <= buf.len());
            assert_eq!(to_bytes(&f), buf[..used].to_vec());
        }
    }
}

#[test]
fn long_strings_are_cut_at_char_boundaries() {
    let f = Frame::Rejected {
        reason: "é".repeat(5000),
    };
    let bytes = to_bytes(&f);
    let (back, _) = decode(&bytes)
        .expect("test input is valid")
        .expect("test input is valid");
    assert!(matches!(back, Frame::Rejected { reason } if reason.len() <= MAX_PAYLOAD));
}

//! Tests of `selector_syntax`: what node clients send is taken; what kube-apiserver refuses is
//! refused in its words; NUL bytes read as its lexer reads them.

use super::*;

#[test]
fn what_node_clients_send_is_taken() {
    for ok in [
        "",
        "!service.kubernetes.io/headless,!service.kubernetes.io/service-proxy-name",
        "kubernetes.io/service-name=kube-dns",
        "a==1, b!=2,c,!d, e notin (x)",
        "x in (foo,,baz),y,z notin ()",
        "in in (in, notin)",
        "a=",
        "a>10,b<0",
        "tier in (a,)",
    ] {
        assert_eq!(check_labels(ok), Ok(()), "{ok:?}");
    }
    for ok in [
        "spec.nodeName=edge-1",
        "metadata.name!=a\\,b,,spec.x==1",
        "",
        ",",
        "type=kubernetes.io/service-account-token",
    ] {
        assert_eq!(check_fields(ok), Ok(()), "{ok:?}");
    }
}

#[test]
fn what_the_apiserver_refuses_is_refused_in_its_words() {
    let err = |s: &str| check_labels(s).expect_err(s);
    assert_eq!(
        err(",a=1"),
        "found ',', expected: !, identifier, or 'end of string'"
    );
    assert_eq!(err("a=1,"), "found '', expected: identifier after ','");
    assert_eq!(err("a=1 b"), "found 'b', expected: ',' or 'end of string'");
    assert_eq!(
        err("a b=1"),
        "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"
    );
    assert_eq!(
        err("a in x"),
        "unable to parse requirement: found 'x' expected: '('"
    );
    assert!(err("-a=1").contains("Invalid value: \"-a\""));
    assert!(err("a/b/c=1").contains("one '/'"));
    assert!(err("A.b/c").contains("prefix part"));
    assert!(err("a=-1").contains("Invalid value: \"-1\""));
    assert!(err("a>x").contains("must be an integer"));
    assert!(err(&format!("a={}", "v".repeat(64))).contains("63"));
    assert!(err("!").contains("expected: identifier"));
    assert!(err("a in (b").contains("expected: ',' or ')'"));
    assert_eq!(
        check_fields("spec.nodeName"),
        Err("invalid selector: 'spec.nodeName'; can't understand 'spec.nodeName'".into())
    );
    for bad in ["=x", "a=b=c", "a=b\\", "a=\\x", "a,=1,b"] {
        assert!(check_fields(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn a_nul_ends_the_selector_where_a_token_would_start() {
    assert_eq!(check_labels("a=1 \0,,"), Ok(()));
    assert_eq!(check_labels("\0garbage("), Ok(()));
    // Inside a word a NUL ends the word; what follows is the next token.
    assert!(check_labels("a\0b").is_err());
    assert!(check_labels("a=1\0,,").is_err());
    assert_eq!(check_labels("a=\0b"), Ok(()));
}

//! Pre-serialized response parts. A root field whose resolved tree needs no help from
//! juniper (no errors, no nulls to propagate) is written as JSON straight from the tree,
//! and juniper only sees a placeholder string, replaced by the JSON once the response is
//! serialized. This skips building a juniper `Value` (an ordered hash map per object) for
//! every row of a large result. Placeholders carry a random per-request nonce, so data can
//! never forge one.

use std::sync::Mutex;

use crate::layer::{Node, S};
use crate::schema::{SchemaDesc, Ty};

/// The raw JSON parts of one response.
pub struct RawParts {
    nonce: u64,
    parts: Mutex<Vec<Vec<u8>>>,
}

impl Default for RawParts {
    fn default() -> Self {
        RawParts {
            nonce: puff_greenlet::ids::random_u64(),
            parts: Mutex::new(Vec::new()),
        }
    }
}

impl RawParts {
    /// Keep `json` and return the placeholder juniper puts in its place.
    pub fn placeholder(&self, json: Vec<u8>) -> juniper::Value<S> {
        let mut parts = self.parts.lock().unwrap_or_else(|p| p.into_inner());
        parts.push(json);
        juniper::Value::scalar(format!("\u{0}puff:{:x}:{}", self.nonce, parts.len() - 1))
    }

    /// `serialized` (the JSON of the whole response) with every placeholder replaced.
    pub fn splice(&self, serialized: Vec<u8>) -> Vec<u8> {
        let parts = self.parts.lock().unwrap_or_else(|p| p.into_inner());
        if parts.is_empty() {
            return serialized;
        }
        // serde_json writes the NUL as `\u0000`.
        let marker = format!("\"\\u0000puff:{:x}:", self.nonce).into_bytes();
        let mut out =
            Vec::with_capacity(serialized.len() + parts.iter().map(Vec::len).sum::<usize>());
        let mut rest = &serialized[..];
        while let Some(at) = find(rest, &marker) {
            let after = &rest[at + marker.len()..];
            let digits = after.iter().take_while(|b| b.is_ascii_digit()).count();
            let part = std::str::from_utf8(&after[..digits])
                .ok()
                .and_then(|d| d.parse::<usize>().ok())
                .and_then(|i| parts.get(i));
            match (part, after.get(digits)) {
                (Some(part), Some(b'"')) => {
                    out.extend_from_slice(&rest[..at]);
                    out.extend_from_slice(part);
                    rest = &after[digits + 1..];
                }
                _ => {
                    out.extend_from_slice(&rest[..at + marker.len()]);
                    rest = after;
                }
            }
        }
        out.extend_from_slice(rest);
        out
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Write a resolved tree as JSON, fields in query order; `false` (with `out` half
/// written) when it needs juniper: an error, a null where the type is non-null,
/// `__typename`, or a shape that does not match the type.
pub fn write_json(out: &mut Vec<u8>, node: &Node, ty: &Ty, schema: &SchemaDesc) -> bool {
    let ty = match ty {
        Ty::Nullable(_) if matches!(node, Node::Null) => {
            out.extend_from_slice(b"null");
            return true;
        }
        Ty::Nullable(inner) => inner,
        other => other,
    };
    match (node, ty) {
        (Node::Scalar(v), Ty::Scalar(_)) => serde_json::to_writer(&mut *out, v).is_ok(),
        (Node::List(items), Ty::List(inner)) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                if !write_json(out, item, inner, schema) {
                    return false;
                }
            }
            out.push(b']');
            true
        }
        (Node::Object(object), Ty::Object(index)) => {
            if object.plan.has_typename {
                return false;
            }
            let desc = schema.object(*index);
            out.push(b'{');
            for (i, (planned, value)) in object.plan.fields.iter().zip(&object.values).enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(&planned.key_json);
                out.push(b':');
                if !write_json(out, value, &desc.fields[planned.field].ty, schema) {
                    return false;
                }
            }
            out.push(b'}');
            true
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_replaced_and_forgeries_are_not() {
        let raw = RawParts::default();
        let a = raw.placeholder(b"[1,2]".to_vec());
        let b = raw.placeholder(br#"{"x":"y"}"#.to_vec());
        let forged = juniper::Value::<S>::scalar("\u{0}puff:0:0".to_owned());
        let mut obj = juniper::Object::with_capacity(3);
        obj.add_field("a", a);
        obj.add_field("b", b);
        obj.add_field("c", forged);
        let json = serde_json::to_vec(&juniper::Value::object(obj)).unwrap();
        let spliced = String::from_utf8(raw.splice(json)).unwrap();
        assert_eq!(spliced, r#"{"a":[1,2],"b":{"x":"y"},"c":"\u0000puff:0:0"}"#);
    }
}

//! The parent/child structure of one trace, for the structural operators (`>`, `>>`, `~`, …)
//! and the `childCount` / `nestedSet*` intrinsics.
//!
//! Spans are placed in a tree by walking down from the root spans (depth first, no recursion,
//! so a deep trace cannot overflow the stack) and numbered as a nested set, as Tempo's storage
//! does: `left` on entry, `right` on exit, `nested_parent` = the parent's `left`, −1 for roots.
//! Spans that cannot be placed (their parent never arrived, or they sit in a parent cycle) keep
//! 0/0/0 and take part in no positive relation, so the negated operators do match them.

use crate::model::{SpanId, Trace};
use std::collections::HashMap;

/// Tree facts about every span of a trace, indexed like `trace.spans`.
#[derive(Debug, Default)]
pub struct Structure {
    /// The index of the parent span, for placed non-root spans.
    pub parent: Vec<Option<u32>>,
    /// Reached from a root span.
    pub placed: Vec<bool>,
    pub left: Vec<i64>,
    pub right: Vec<i64>,
    pub nested_parent: Vec<i64>,
    /// Direct children whose parent id points at this span.
    pub child_count: Vec<i64>,
    /// Placed spans in depth-first pre-order (every parent before its children).
    pub preorder: Vec<u32>,
}

impl Structure {
    pub fn build(trace: &Trace) -> Structure {
        let n = trace.spans.len();
        let mut by_id: HashMap<SpanId, u32> = HashMap::with_capacity(n);
        for (i, span) in trace.spans.iter().enumerate() {
            by_id.entry(span.span_id).or_insert(i as u32);
        }
        let mut s = Structure {
            parent: vec![None; n],
            placed: vec![false; n],
            left: vec![0; n],
            right: vec![0; n],
            nested_parent: vec![0; n],
            child_count: vec![0; n],
            preorder: Vec::with_capacity(n),
        };
        // Children in compressed form: counts, offsets, then the child lists.
        let mut parent_of: Vec<Option<u32>> = vec![None; n];
        let mut roots = Vec::new();
        for (i, span) in trace.spans.iter().enumerate() {
            match span.parent_span_id {
                None => roots.push(i as u32),
                Some(pid) => {
                    if let Some(&p) = by_id.get(&pid)
                        && p as usize != i
                    {
                        parent_of[i] = Some(p);
                        s.child_count[p as usize] += 1;
                    }
                }
            }
        }
        let mut offsets = vec![0usize; n + 1];
        for i in 0..n {
            offsets[i + 1] = offsets[i] + s.child_count[i] as usize;
        }
        let mut fill = offsets.clone();
        let mut children = vec![0u32; offsets[n]];
        for (i, p) in parent_of.iter().enumerate() {
            if let Some(p) = p {
                children[fill[*p as usize]] = i as u32;
                fill[*p as usize] += 1;
            }
        }
        let mut counter: i64 = 1;
        // (span, next child position); a span is "entered" when pushed.
        let mut stack: Vec<(u32, usize)> = Vec::new();
        for root in roots {
            if s.placed[root as usize] {
                continue;
            }
            s.placed[root as usize] = true;
            s.left[root as usize] = counter;
            s.nested_parent[root as usize] = -1;
            counter += 1;
            s.preorder.push(root);
            stack.push((root, offsets[root as usize]));
            while let Some(top) = stack.last_mut() {
                let (node, next) = *top;
                if next < offsets[node as usize + 1] {
                    top.1 += 1;
                    let child = children[next];
                    if s.placed[child as usize] {
                        continue;
                    }
                    s.placed[child as usize] = true;
                    s.parent[child as usize] = Some(node);
                    s.left[child as usize] = counter;
                    s.nested_parent[child as usize] = s.left[node as usize];
                    counter += 1;
                    s.preorder.push(child);
                    stack.push((child, offsets[child as usize]));
                } else {
                    s.right[node as usize] = counter;
                    counter += 1;
                    stack.pop();
                }
            }
        }
        s
    }

    /// The sibling group a placed span belongs to: its parent, or "the roots" (roots count as
    /// siblings of each other, as in Tempo).
    pub fn sibling_key(&self, i: usize) -> Option<usize> {
        if !self.placed[i] {
            return None;
        }
        Some(match self.parent[i] {
            Some(p) => p as usize,
            None => self.parent.len(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Span;

    fn span(id: u8, parent: Option<u8>) -> Span {
        Span {
            span_id: SpanId([0, 0, 0, 0, 0, 0, 0, id]),
            parent_span_id: parent.map(|p| SpanId([0, 0, 0, 0, 0, 0, 0, p])),
            ..Span::default()
        }
    }

    #[test]
    fn spans_are_numbered_as_a_nested_set_and_orphans_are_left_out() {
        // 1 ─┬─ 2 ── 3
        //    └─ 4          9 (orphan: parent 8 never arrived)
        let trace = Trace {
            spans: vec![
                span(3, Some(2)),
                span(1, None),
                span(2, Some(1)),
                span(4, Some(1)),
                span(9, Some(8)),
            ],
            ..Trace::default()
        };
        let s = Structure::build(&trace);
        assert_eq!(s.parent, vec![Some(2), None, Some(1), Some(1), None]);
        assert_eq!(s.placed, vec![true, true, true, true, false]);
        assert_eq!(s.nested_parent[1], -1);
        assert_eq!(s.nested_parent[2], s.left[1]);
        assert!(
            s.left[0] > s.left[1] && s.right[0] < s.right[1],
            "3 is a descendant of 1"
        );
        assert_eq!((s.left[4], s.right[4], s.nested_parent[4]), (0, 0, 0));
        assert_eq!(s.child_count[1], 2);
        assert_eq!(s.preorder.len(), 4);
    }
}

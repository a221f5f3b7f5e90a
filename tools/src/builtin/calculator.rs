//! `calculator`: arithmetic models should not do in their heads.

use anymodel_core::schemars::{self, JsonSchema};
use anymodel_core::{ToolError, TypedTool, async_trait};
use serde::Deserialize;

/// Evaluates an arithmetic expression (with evalexpr: `+ - * / % ^`, parentheses, comparisons,
/// and `math::sqrt`, `math::ln` and the like).
#[derive(Debug, Clone, Copy, Default)]
pub struct Calculator;

/// The longest expression evaluated, in characters: evalexpr parses and evaluates by recursion,
/// and a longer one (50,000 terms) would overflow the stack and abort the process.
pub const MAX_EXPRESSION_CHARS: usize = 2_000;

/// The deepest nesting of parentheses evaluated.
pub const MAX_NESTING: usize = 40;

/// The arguments of `calculator`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct CalculatorArgs {
    /// The expression, such as `(17.5 * 3 + 2) / 4` or `2 ^ 10`.
    pub expression: String,
}

#[async_trait]
impl TypedTool for Calculator {
    const NAME: &'static str = "calculator";
    const DESCRIPTION: &'static str = "Evaluates an arithmetic expression exactly: + - * / % ^, parentheses, and functions \
        such as math::sqrt(x). Use it for any calculation.";
    type Args = CalculatorArgs;
    type Output = String;

    async fn run(&self, args: CalculatorArgs) -> Result<String, ToolError> {
        bounded(&args.expression)?;
        let invalid = |e: evalexpr::EvalexprError| {
            ToolError::InvalidArguments(format!("`{}`: {e}", args.expression))
        };
        let mut tree =
            evalexpr::build_operator_tree::<evalexpr::DefaultNumericTypes>(&args.expression)
                .map_err(invalid)?;
        // Whole numbers become floats so that `7 / 2` is 3.5, as people mean it.
        for operator in tree.iter_operators_mut() {
            if let evalexpr::Operator::Const { value: evalexpr::Value::Int(int) } = operator {
                *operator =
                    evalexpr::Operator::Const { value: evalexpr::Value::Float(*int as f64) };
            }
        }
        let value = tree.eval_number().map_err(invalid)?;
        Ok(if value.fract() == 0.0 && value.abs() < 1e15 {
            format!("{value:.0}")
        } else {
            value.to_string()
        })
    }
}

/// Refuses an expression too long or too deeply nested to evaluate safely.
fn bounded(expression: &str) -> Result<(), ToolError> {
    let length = expression.chars().count();
    if length > MAX_EXPRESSION_CHARS {
        return Err(ToolError::InvalidArguments(format!(
            "the expression is {length} characters long; the calculator takes at most {MAX_EXPRESSION_CHARS}: split the calculation"
        )));
    }
    let (mut depth, mut deepest) = (0usize, 0usize);
    for c in expression.chars() {
        match c {
            '(' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            ')' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    if deepest > MAX_NESTING {
        return Err(ToolError::InvalidArguments(format!(
            "the expression nests parentheses {deepest} deep; the calculator takes at most {MAX_NESTING}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(expression: String) -> Result<String, ToolError> {
        // On a thread with the runtime's default stack (2 MiB), where the tool runs.
        std::thread::Builder::new()
            .stack_size(2 * 1024 * 1024)
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
                runtime.block_on(Calculator.run(CalculatorArgs { expression }))
            })
            .unwrap()
            .join()
            .unwrap()
    }

    #[test]
    fn huge_or_deep_expressions_are_refused_not_a_stack_overflow() {
        let terms = vec!["1"; 50_000].join("+");
        let error = eval(terms).unwrap_err().to_string();
        assert!(error.contains("at most 2000"), "{error}");
        let deep = format!("{}1{}", "(".repeat(500), ")".repeat(500));
        assert!(eval(deep).unwrap_err().to_string().contains("nests parentheses 500 deep"));
        // The largest accepted ones still evaluate on the runtime's stack.
        let longest = vec!["1"; MAX_EXPRESSION_CHARS / 2].join("+");
        assert_eq!(eval(longest).unwrap(), (MAX_EXPRESSION_CHARS / 2).to_string());
        let deepest = format!("{}2{}", "(".repeat(MAX_NESTING), ")".repeat(MAX_NESTING));
        assert_eq!(eval(deepest).unwrap(), "2");
        let mixed = vec!["(2*(3-1))"; MAX_EXPRESSION_CHARS / 10].join("*");
        assert!(eval(mixed).is_ok());
    }
}

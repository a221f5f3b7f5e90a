//! `calculator`: arithmetic models should not do in their heads.

use anymodel_core::schemars::{self, JsonSchema};
use anymodel_core::{ToolError, TypedTool, async_trait};
use serde::Deserialize;

/// Evaluates an arithmetic expression (with evalexpr: `+ - * / % ^`, parentheses, comparisons,
/// and `math::sqrt`, `math::ln` and the like).
#[derive(Debug, Clone, Copy, Default)]
pub struct Calculator;

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

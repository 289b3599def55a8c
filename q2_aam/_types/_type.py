"""The AAMModel semantic type: one family, one variant per model kind."""
from qiime2.plugin import SemanticType

AAMModel = SemanticType('AAMModel', field_names='kind')
AAMEncoder = SemanticType('AAMEncoder', variant_of=AAMModel.field['kind'])
AAMRegressor = SemanticType('AAMRegressor', variant_of=AAMModel.field['kind'])
AAMClassifier = SemanticType('AAMClassifier',
                             variant_of=AAMModel.field['kind'])

# semantic variant -> the `kind` its config.json must declare
KIND_OF_VARIANT = {AAMEncoder: 'encoder', AAMRegressor: 'regressor',
                   AAMClassifier: 'classifier'}

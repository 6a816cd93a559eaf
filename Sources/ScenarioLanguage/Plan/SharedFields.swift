/// The stored fields of a large plan value, held by reference so that a copy of the value is one retain rather than
/// a retain of each field (a compiled step or scenario is copied wherever it is taken out of an array). Immutable,
/// so sharing is invisible: equality and hashing are those of the fields.
@usableFromInline
final class SharedFields<Fields: Sendable & Hashable>: Sendable, Hashable {
    @usableFromInline
    let value: Fields

    @usableFromInline
    init(_ value: Fields) { self.value = value }

    @usableFromInline
    static func == (lhs: SharedFields, rhs: SharedFields) -> Bool { lhs === rhs || lhs.value == rhs.value }

    @usableFromInline
    func hash(into hasher: inout Hasher) { hasher.combine(value) }
}

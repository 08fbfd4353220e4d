fn main() {
    println!("oxpc: not yet wired");
}

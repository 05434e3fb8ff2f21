package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/rewardkit/rewardkit/storage"
	"github.com/rewardkit/rewardkit/storage/sqlstore"
)

// A host opens a store on an SQLite file, then consumes stock in the same
// transaction as its own order row.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "sqlstore-example-")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "shop.db")

	s, err := sqlstore.OpenSQLite(ctx, path, sqlstore.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()

	// The host's own table, in the same database.
	if _, err := s.DB().ExecContext(ctx, "CREATE TABLE orders (id TEXT PRIMARY KEY)"); err != nil {
		fmt.Println(err)
		return
	}

	stock := storage.AtMost(2)
	for _, order := range []string{"o-1", "o-2", "o-3"} {
		err := s.InTx(ctx, func(ctx context.Context) error {
			_, ok, err := s.AddCounter(ctx, "shop-1", "coupon-stock", 1, stock)
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("order %s: coupons sold out", order)
			}
			tx, _ := s.Tx(ctx) // the host writes in our transaction
			_, err = tx.ExecContext(ctx, "INSERT INTO orders (id) VALUES (?)", order)
			return err
		})
		if err != nil {
			fmt.Println(err)
		}
	}
	issued, _ := s.Counter(ctx, "shop-1", "coupon-stock")
	var orders int
	_ = s.DB().QueryRowContext(ctx, "SELECT count(*) FROM orders").Scan(&orders)
	fmt.Println("issued:", issued, "orders:", orders)
	// Output:
	// order o-3: coupons sold out
	// issued: 2 orders: 2
}

// The host opens the transaction and hands it in with WithTx; it commits.
func ExampleStore_WithTx() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "sqlstore-example-")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "host.db")

	db, err := sql.Open("sqlite", sqlstore.SQLiteDSN(path, 5*time.Second))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer db.Close()
	s, err := sqlstore.New(db, sqlstore.SQLite, sqlstore.Options{TablePrefix: "reward_"})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := s.Migrate(ctx); err != nil {
		fmt.Println(err)
		return
	}

	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	hctx := s.WithTx(ctx, tx)
	_, _, err = s.AddCounter(hctx, "shop-1", "points:u1", 120, storage.Bounds{})
	if err == nil {
		err = s.RollbackOnly(hctx)
	}
	if err != nil {
		_ = tx.Rollback()
		fmt.Println(err)
		return
	}
	if err := tx.Commit(); err != nil {
		fmt.Println(err)
		return
	}
	v, _ := s.Counter(ctx, "shop-1", "points:u1")
	fmt.Println("points:", v)
	// Output:
	// points: 120
}
